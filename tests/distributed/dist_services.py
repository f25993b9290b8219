"""Real services for the distributed tests: a dedicated redis-server, a throw-away
PostgreSQL cluster, ``botarmy-nb worker`` processes, and fixtures that wire them up."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from botarmy_nb import settings as settings_module

HERE = Path(__file__).resolve().parent
ROOT_CONFTEST = HERE.parent / "conftest.py"
# short leases so a killed worker's runs come back within seconds
FAST_LEASES = {
    "BOTARMY_LEASE_S": "3",
    "BOTARMY_HEARTBEAT_S": "0.5",
    "BOTARMY_RECOVERY_INTERVAL_S": "1",
    "BOTARMY_CANCEL_GRACE_S": "2",
}


def service_unavailable(what: str, why: str) -> None:
    """tests/conftest.py's helper: skip locally, fail when BOTARMY_REQUIRE_SERVICES=1."""
    module = sys.modules.get("conftest")
    if module is None or Path(getattr(module, "__file__", "")).resolve() != ROOT_CONFTEST:
        spec = importlib.util.spec_from_file_location("_botarmy_root_conftest", ROOT_CONFTEST)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    module.service_unavailable(what, why)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail saying ``what`` if not."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# -- Redis -----------------------------------------------------------------------------------


class RedisServer:
    """A redis-server of our own on a free loopback port, persisted with an append-only
    file so that a restart keeps the broker's queues (as the compose file does)."""

    def __init__(self, directory: Path, password: str | None = None) -> None:
        self.dir, self.password = directory, password
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0, password: str | None = None) -> str:
        secret = password if password is not None else self.password
        auth = f":{secret}@" if secret else ""
        return f"redis://{auth}127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        import redis

        args = [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ]
        if self.password:
            args += ["--requirepass", self.password]
        log = (self.dir / "redis.log").open("ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(self.url(), socket_connect_timeout=0.2)

        def up() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                assert self.proc is not None and self.proc.poll() is None, "redis-server died"
                return False

        wait_until(up, 10, "redis-server to answer")
        client.close()
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: redis fsyncs its append-only file and exits
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        service_unavailable("Redis", "no redis-server binary to start a dedicated one")
    (tmp_path / "redis").mkdir()
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


# -- PostgreSQL ------------------------------------------------------------------------------

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class PgCluster:
    """A throw-away PostgreSQL cluster (DESIGN §5: initdb refuses root, so as root it runs
    as the ``postgres`` user), on its own data dir and port; ``crash()`` stops it with
    ``-m immediate``, the way a killed server goes down."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="botarmy-pg-"))
        self.port = free_port()
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:
            import pwd

            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self._as_postgres = ["runuser", "-u", "postgres", "--"]
        self._run(str(PG_BIN / "initdb"), "-D", str(self.dir / "data"), "-A", "trust", "-U", "root")

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as_postgres, *args], check=True, capture_output=True)

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://root@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._run(
            str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-o", options,
            "-l", str(self.dir / "log"), "-w", "start",
        )  # fmt: skip

    def crash(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop")

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(
            f"postgresql://root@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://root@127.0.0.1:{self.port}/{name}"

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.crash()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def pg_cluster() -> Iterator[PgCluster]:
    if not (PG_BIN / "initdb").exists():
        service_unavailable("PostgreSQL", f"no {PG_BIN}/initdb to start a throw-away cluster")
    cluster = PgCluster()
    cluster.start()
    yield cluster
    cluster.destroy()


# -- workers ---------------------------------------------------------------------------------


def slow_plugin_path(root: Path) -> Path:
    """A folder holding a distribution whose entry point registers ``slowtest``."""
    info = root / "botarmy_slowtest-0.0.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: botarmy-slowtest\nVersion: 0.0.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[botarmy_nb.providers]\nslowtest = dist_slow_provider:provider\n"
    )
    return root


def worker_command() -> list[str]:
    """``botarmy-nb worker`` once the CLI has the command; the same click command through
    ``python -m botarmy_nb.worker`` until then."""
    from botarmy_nb.cli import main

    script = Path(sys.executable).parent / "botarmy-nb"
    if "worker" in getattr(main, "commands", {}) and script.exists():
        return [str(script), "worker"]
    return [sys.executable, "-m", "botarmy_nb.worker"]


class WorkerProcess:
    """One ``botarmy-nb worker`` process, its log in a file."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.name = f"w{uuid.uuid4().hex[:6]}@test"
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*worker_command(), "--name", self.name, "--loglevel", "INFO", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.owner_prefix = f"{socket.gethostname()}:{self.proc.pid}:"

    def ready(self, timeout: float = 90) -> WorkerProcess:
        def up() -> bool:
            if self.proc.poll() is not None:
                pytest.fail(f"worker exited with {self.proc.returncode}:\n{self.output()}")
            return f"{self.name} ready." in self.output()

        wait_until(up, timeout, f"worker {self.name} to be ready")
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no last heartbeat, nothing flushed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


class Cluster:
    """The test's services as the product sees them: the settings point at them, and
    workers started here share them."""

    def __init__(self, tmp: Path, database_url: str, redis: RedisServer) -> None:
        self.tmp, self.database_url, self.redis = tmp, database_url, redis
        self.workers: list[WorkerProcess] = []
        plugins = slow_plugin_path(tmp / "plugins")
        self.env = {
            **os.environ,
            "BOTARMY_DATABASE_URL": database_url,
            "BOTARMY_REDIS_URL": redis.url(),
            "BOTARMY_LOG_LEVEL": "WARNING",
            **FAST_LEASES,
            "PYTHONPATH": os.pathsep.join([str(plugins), str(HERE)]),
        }

    def start_worker(self, *args: str, env: dict[str, str] | None = None) -> WorkerProcess:
        log = self.tmp / f"worker-{len(self.workers)}.log"
        worker = WorkerProcess({**self.env, **(env or {})}, log, *args)
        self.workers.append(worker)
        return worker.ready()

    def close(self) -> None:
        for worker in self.workers:  # all at once: each warm shutdown takes a moment
            if worker.proc.poll() is None:
                worker.proc.terminate()
        for worker in self.workers:
            worker.stop()


def make_cluster(
    tmp: Path, database_url: str, redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> Cluster:
    """Point this process's settings at the services and register ``slowtest``."""
    from dist_slow_provider import provider

    from botarmy_nb.models import registry
    from botarmy_nb.store.base import open_store

    found = Cluster(tmp, database_url, redis)
    for key in ("BOTARMY_DATABASE_URL", "BOTARMY_REDIS_URL", *FAST_LEASES):
        monkeypatch.setenv(key, found.env[key])
    settings_module.reset_settings()
    registry.register_provider(provider())
    open_store()  # creates the schema before any worker opens the database
    return found


def close_cluster(found: Cluster) -> None:
    from botarmy_nb.bus.redis import close_redis_buses
    from botarmy_nb.models import registry

    found.close()
    registry._REGISTRY.pop("slowtest", None)
    close_redis_buses(timeout=0.5)


@pytest.fixture
def cluster(
    tmp_path: Path, pg_url: str, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Cluster]:
    """A fresh PostgreSQL database and a dedicated Redis, with this process's settings
    pointing at them and the ``slowtest`` provider registered; workers are stopped after."""
    found = make_cluster(tmp_path, pg_url, redis_server, monkeypatch)
    yield found
    close_cluster(found)


def assert_gap_free(run_id: str) -> list[Any]:
    """The run's stored events: seq 1..n, no gap, no duplicate; returns them."""
    from botarmy_nb.store.base import open_store

    store = open_store()
    events = store.events(run_id)
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), seqs
    assert store.get_run(run_id).last_seq == len(seqs)
    return events


def conversation(events: list[Any]) -> list[tuple[Any, ...]]:
    """What was said, in order (no ids, times or model labels)."""
    return [(e.agent, e.kind, e.content) for e in events if e.type == "message"]
