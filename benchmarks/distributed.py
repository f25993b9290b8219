"""The Celery + Redis figures: B3 worker → viewer latency, B4 runs through workers, B5 on
one worker process, B9 enqueue → first event, M1 worker memory. Workers are real
``botarmy-nb worker`` processes on a queue of their own; PostgreSQL is a fresh database."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks._core import (
    REDIS_URL,
    ROOT,
    Figure,
    alternate,
    percentile,
    pg_available,
    redis_available,
)
from benchmarks.runs import TASK

if TYPE_CHECKING:
    from benchmarks.__main__ import Context


def unavailable() -> str | None:
    """Why the Celery figures cannot run here, or None."""
    try:
        import celery  # noqa: F401

        from botarmy_nb.worker import cli  # noqa: F401
    except ImportError as exc:
        return f"Celery executor not installed: {exc.name}"
    return pg_available() or redis_available()


def worker_command() -> list[str]:
    """``botarmy-nb worker`` when the CLI has it, else the same command as a module."""
    from botarmy_nb.cli import main

    script = Path(sys.executable).parent / "botarmy-nb"
    if "worker" in getattr(main, "commands", {}) and script.exists():
        return [str(script), "worker"]
    return [sys.executable, "-m", "botarmy_nb.worker"]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Cluster:
    """A PostgreSQL database, a Redis database and a queue private to this benchmark, and
    the worker processes started on them."""

    def __init__(self, ctx: Context) -> None:
        from benchmarks.providers import plugin_path

        self.ctx = ctx
        self.database_url = ctx.env.postgres()
        self.queue = f"bench-{uuid.uuid4().hex[:8]}"
        plugins = plugin_path(ctx.env.home / "plugins")
        self.env = {
            **os.environ,
            "BOTARMY_DATABASE_URL": self.database_url,
            "BOTARMY_REDIS_URL": REDIS_URL,
            "BOTARMY_HOME": str(ctx.env.home),
            "BOTARMY_LOG_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join([str(plugins), str(ROOT)]),
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        ctx.env.use(self.database_url, redis_url=REDIS_URL)

    def worker(
        self, concurrency: int, *, command: list[str] | None = None
    ) -> subprocess.Popen[bytes]:
        name = f"bench{len(self.procs)}-{uuid.uuid4().hex[:4]}"
        log = self.ctx.env.home / f"{name}.log"
        cmd = command or [
            *worker_command(),
            "--concurrency",
            str(concurrency),
            "--queues",
            self.queue,
            "--name",
            name,
            "--loglevel",
            "INFO",
        ]
        with log.open("ab") as out:
            proc = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited {proc.returncode}: {log.read_text()[-1500:]}")
            if " ready." in log.read_text(errors="replace"):
                return proc
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready in 60 s: {log.read_text()[-1500:]}")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self.procs = []

    def runs(self, count: int, team: str, model: str, executor: str = "celery") -> float:
        """Submit ``count`` runs at once, wait for all; the wall time."""
        import botarmy_nb as ba

        queue = self.queue if executor == "celery" else None
        start = time.perf_counter()
        handles = [
            ba.run(TASK, team=team, model=model, executor=executor, queue=queue)
            for _ in range(count)
        ]
        for h in handles:
            h.wait(timeout=900)
        elapsed = time.perf_counter() - start
        bad = {h.status for h in handles} - {"completed"}
        if bad:
            raise RuntimeError(f"runs ended {bad}: {handles[0].record.error}")
        return elapsed


@contextlib.contextmanager
def cluster(ctx: Context) -> Iterator[Cluster]:
    c = Cluster(ctx)
    try:
        yield c
    finally:
        c.stop()
        ctx.env.use(None)


def _na(figures: list[Figure]) -> list[Figure] | None:
    why = unavailable()
    if why:
        for f in figures:
            f.na = why
        return figures
    return None


# -- B3 -----------------------------------------------------------------------------------------


def raw_stream_latency(samples: int) -> list[float]:
    """XADD on one connection → XREAD BLOCK on another, ms, one entry every 2 ms."""
    import redis

    key = f"bench:{uuid.uuid4().hex}"
    reader = redis.Redis.from_url(REDIS_URL)
    writer = redis.Redis.from_url(REDIS_URL)
    lat: list[float] = []

    def read() -> None:
        last = "0-0"
        while len(lat) < samples:
            got = reader.xread({key: last}, block=2000, count=100)
            now = time.time()
            for _, entries in got or []:
                for entry_id, fields in entries:
                    last = entry_id
                    lat.append((now - float(fields[b"t"])) * 1000)

    thread = threading.Thread(target=read)
    thread.start()
    time.sleep(0.1)
    for _ in range(samples):
        writer.xadd(key, {"t": repr(time.time())})
        time.sleep(0.002)
    thread.join(30)
    writer.delete(key)
    return lat


def viewer_latency(c: Cluster, runs: int, messages: int) -> list[float]:
    """Runs on the worker (20 ms per model call); a subscriber here, on the run's Redis
    stream: how long after an event was made in the worker the viewer has it (ms)."""
    import botarmy_nb as ba

    team = c.ctx.env.team(f"bench{messages}", messages)
    lat: list[float] = []
    for _ in range(runs):
        got: list[float] = []

        def seen(event: Any, got: list[float] = got) -> None:
            # messages only: a model call's event is made when the call ends but held
            # until its message (causal order), so its age is not the bus's latency;
            # the first events may come from the store's history, not live
            if event.type == "message" and event.seq > 3:
                got.append((time.time() - event.created_at.timestamp()) * 1000)

        h = ba.run(
            TASK, team=team, model=f"bench-slow:{messages}x0.02", executor="celery", queue=c.queue
        )
        sub = h.subscribe(seen)
        h.wait(timeout=300)
        sub.join(30)
        sub.close()
        lat.extend(got)
    return lat


def b3(ctx: Context) -> list[Figure]:
    figs = [
        Figure("B3", "worker → viewer latency p50", "ms", "abs", 1.0),
        Figure("B3", "worker → viewer latency p99", "ms", "abs", 1.0),
    ]
    if _na(figs):
        return figs
    runs, messages = ctx.scale(5, 1), ctx.scale(101, 11)
    with cluster(ctx) as c:
        c.worker(4)
        viewer_latency(c, 1, 5)  # warm up
        ours = viewer_latency(c, runs, messages)
    raw = raw_stream_latency(len(ours) or 100)
    for fig, q in zip(figs, (50, 99), strict=True):
        fig.ours, fig.baseline = percentile(ours, q), percentile(raw, q)
        fig.details = {
            "samples": len(ours),
            "raw_samples": len(raw),
            "ours_max_ms": max(ours) if ours else None,
        }
    figs[0].compare = "abs"
    figs[0].limit = 1.0
    figs[0].details["note"] = "target is on p99; p50 shown against the same limit"
    return figs


# -- B4 -----------------------------------------------------------------------------------------


def b4(ctx: Context) -> list[Figure]:
    count = ctx.scale(500, 10)
    figs = [
        Figure("B4", f"{count} runs/s, Celery 1 worker vs in-process (PG)", "runs/s", "ge", 0.6),
        Figure("B4", f"{count} runs/s, 2 workers vs 1 worker", "runs/s", "ge", 1.3),
    ]
    if _na(figs):
        return figs
    from benchmarks.runs import MESSAGES

    team = ctx.env.team("bench21", MESSAGES)
    model = "bench-replay:11"
    rounds = min(ctx.rounds, 2)
    with cluster(ctx) as c:
        c.runs(5, team, model, executor="local")  # warm up: the store, the run thread
        local = [c.runs(count, team, model, executor="local") for _ in range(rounds)]
        c.worker(8)
        c.runs(5, team, model)
        one = alternate(
            rounds,
            {
                "one": lambda: c.runs(count, team, model),
                "local": lambda: c.runs(count, team, model, executor="local"),
            },
        )
        c.worker(8)
        c.runs(5, team, model)
        two = [c.runs(count, team, model) for _ in range(rounds)]
    local_rate = count / min(local + one["local"])
    one_rate, two_rate = count / min(one["one"]), count / min(two)
    figs[0].ours, figs[0].baseline = one_rate, local_rate
    figs[1].ours, figs[1].baseline = two_rate, one_rate
    table = {"in-process": local_rate, "1 worker (c=8)": one_rate, "2 workers (c=8)": two_rate}
    for f in figs:
        f.details = {
            "runs": count,
            "runs_per_s": table,
            "wall_s": {"local": local + one["local"], "one": one["one"], "two": two},
        }
    return figs


# -- B5 on a worker ---------------------------------------------------------------------------


def b5_worker(ctx: Context, count: int, messages: int) -> Figure:
    from benchmarks.loop import fake_llm

    fig = Figure("B5", f"{count} concurrent runs vs one, 200 ms/call, one worker", "s", "le", 1.5)
    if _na([fig]):
        return fig
    team = ctx.env.team(f"bench{messages}", messages)
    with fake_llm(0.2) as url, cluster(ctx) as c:
        model = f"openai-compatible:m@{url}"
        c.worker(count)
        c.runs(1, team, model)
        measured = alternate(
            ctx.rounds,
            {
                "one": lambda: c.runs(1, team, model),
                "many": lambda: c.runs(count, team, model),
            },
        )
    fig.ours, fig.baseline = min(measured["many"]), min(measured["one"])
    fig.details = {
        "runs": count,
        "messages": messages,
        "worker_concurrency": count,
        "rounds_s": measured,
    }
    return fig


# -- B9 -----------------------------------------------------------------------------------------


def b9(ctx: Context) -> list[Figure]:
    fig = Figure("B9", "enqueue → first event, idle worker, p99", "ms", "abs", 50)
    if _na([fig]):
        return [fig]
    import botarmy_nb as ba

    samples = ctx.scale(50, 3)
    team = ctx.env.team("bench5", 5)
    lat: list[float] = []
    with cluster(ctx) as c:
        c.worker(8)
        c.runs(2, team, "bench-replay:3")
        for _ in range(samples):
            time.sleep(0.3)  # idle again
            start = time.time()
            h = ba.run(TASK, team=team, model="bench-replay:3", executor="celery", queue=c.queue)
            h.wait(timeout=60)
            first = h.events[0]
            lat.append((first.created_at.timestamp() - start) * 1000)
    fig.ours = percentile(lat, 99)
    fig.details = {
        "samples": len(lat),
        "p50_ms": percentile(lat, 50),
        "max_ms": max(lat),
        "measured": "ba.run() called → the worker's first event (created_at)",
    }
    return [fig]


# -- M1 -----------------------------------------------------------------------------------------

BARE_APP = "benchmarks.bare_celery"


def m1(ctx: Context) -> list[Figure]:
    fig = Figure("M1", "worker RSS, 20 concurrent runs, vs bare Celery worker", "MB", "diff", 300)
    if _na([fig]):
        return [fig]
    concurrency = 20
    with cluster(ctx) as c:
        bare = c.worker(
            concurrency,
            command=[
                sys.executable,
                "-m",
                "celery",
                "-A",
                BARE_APP,
                "worker",
                "--pool=threads",
                f"--concurrency={concurrency}",
                "--without-gossip",
                "--without-mingle",
                "-Q",
                c.queue + "-bare",
                "--loglevel=INFO",
                "-n",
                f"bare-{c.queue}@%h",
            ],
        )
        time.sleep(2)
        bare_rss = rss_mb(bare.pid)
        c.stop()
        proc = c.worker(concurrency)
        idle_rss = rss_mb(proc.pid)
        team = ctx.env.team("bench41", ctx.scale(41, 5))
        ctx_model = "bench-slow:21x0.1" if not ctx.quick else "bench-slow:3x0.05"
        peak = [idle_rss]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                with contextlib.suppress(OSError, RuntimeError):
                    peak.append(rss_mb(proc.pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            for _ in range(ctx.scale(2, 1)):
                c.runs(concurrency, team, ctx_model)
        finally:
            done.set()
            sampler.join()
    fig.ours, fig.baseline = max(peak), bare_rss
    fig.details = {
        "idle_worker_rss_mb": idle_rss,
        "bare_celery_rss_mb": bare_rss,
        "concurrency": concurrency,
        "runs": "2 x 20 concurrent, 41 messages, 0.1 s/call",
    }
    return [fig]
