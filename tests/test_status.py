"""Health checks against the real services, and the compose file users start them with."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from botarmy_nb import settings
from botarmy_nb.status import collect_status


def service_unavailable(what: str, why: str) -> None:
    """tests/conftest.py's helper, found by path: ``conftest`` in sys.modules is whichever
    conftest pytest imported last (tests/models has one too)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_botarmy_root_conftest", Path(__file__).with_name("conftest.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.service_unavailable(what, why)


REDIS_URL = os.environ.get("BOTARMY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _checks() -> dict[str, object]:
    return {c.name: c for c in collect_status()}


def test_status_reports_real_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        service_unavailable("Redis", str(exc))
    monkeypatch.setenv("BOTARMY_REDIS_URL", REDIS_URL)
    settings.reset_settings()
    check = _checks()["redis"]
    assert check.ok and check.detail == REDIS_URL


def test_status_says_why_redis_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOTARMY_REDIS_URL", "redis://:pw@127.0.0.1:1/0")
    settings.reset_settings()
    check = _checks()["redis"]
    assert not check.ok and "127.0.0.1:1" in check.detail and "pw@" not in check.detail


def test_status_never_shows_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary-0123456789abcdef")
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    checks = _checks()
    assert checks["openai"].ok and "canary" not in checks["openai"].detail
    assert not checks["gemini"].ok and checks["gemini"].detail == "GEMINI_API_KEY is not set"
    assert checks["database"].ok and "botarmy.db" in checks["database"].detail


def test_compose_file_declares_the_services() -> None:
    path = Path(__file__).resolve().parent.parent / "docker-compose.yml"
    services = yaml.safe_load(path.read_text())["services"]
    assert {"postgres", "redis", "worker", "jupyterlab"} <= set(services)
    assert all("healthcheck" in services[s] for s in ("postgres", "redis"))
    # credentials come from the environment, never from the file
    text = path.read_text()
    assert "${POSTGRES_PASSWORD" in text and "${REDIS_PASSWORD" in text
    for name in ("worker", "jupyterlab"):
        env = services[name]["environment"]
        assert env["BOTARMY_DATABASE_URL"].startswith("postgresql://")
        assert env["BOTARMY_REDIS_URL"].startswith("redis://")
        assert set(services[name]["depends_on"]) == {"postgres", "redis"}
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker  # --scale worker=N
    assert "worker" in " ".join(worker["command"])
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        result = subprocess.run(
            [docker, "compose", "-f", str(path), "config", "-q"],
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "POSTGRES_PASSWORD": "x",
                "REDIS_PASSWORD": "y",
                "JUPYTER_TOKEN": "z",
            },
        )
        assert result.returncode == 0, result.stderr
