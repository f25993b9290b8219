"""Shared fixtures: an isolated BOTARMY_HOME, and the store on SQLite and on real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from botarmy_nb import settings as settings_module

# Property and fuzz tests: "ci" (the default) is small and reproducible; run the "long"
# profile with HYPOTHESIS_PROFILE=long (docs/testing.md). No example database: nothing
# is written into the working tree.
hypothesis_settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
hypothesis_settings.register_profile(
    "long",
    max_examples=2_000,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

PG_ADMIN_URL = os.environ.get(
    "BOTARMY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_SERVICES = os.environ.get("BOTARMY_REQUIRE_SERVICES") == "1"


def service_unavailable(what: str, why: str) -> None:
    """Skip with a visible reason, or fail when CI demands the real services."""
    message = f"{what} is not reachable ({why})"
    if REQUIRE_SERVICES:
        pytest.fail(message + " and BOTARMY_REQUIRE_SERVICES=1")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def botarmy_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own home (embedded SQLite database and artifacts)."""
    home = tmp_path / "botarmy-home"
    monkeypatch.setenv("BOTARMY_HOME", str(home))
    monkeypatch.delenv("BOTARMY_DATABASE_URL", raising=False)
    monkeypatch.delenv("BOTARMY_REDIS_URL", raising=False)
    settings_module.reset_settings()
    yield home
    from botarmy_nb.store.sql import close_stores

    close_stores()
    settings_module.reset_settings()


def _admin_connect():  # type: ignore[no-untyped-def]
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(PG_ADMIN_URL).set(drivername="postgresql")
    return psycopg.connect(
        url.render_as_string(hide_password=False), autocommit=True, connect_timeout=3
    )


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The admin URL of the real PostgreSQL server (skip/fail if it is down)."""
    try:
        _admin_connect().close()
    except Exception as exc:
        service_unavailable("PostgreSQL", str(exc).splitlines()[0])
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    from sqlalchemy.engine import make_url

    name = f"botarmy_test_{uuid.uuid4().hex[:12]}"
    with _admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(pg_server).set(database=name).render_as_string(hide_password=False)
    yield url
    from botarmy_nb.store.sql import close_stores

    close_stores()
    with _admin_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, botarmy_home: Path) -> str:
    """The same test on the embedded SQLite file and on a fresh real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{botarmy_home / 'botarmy.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def use_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the whole product (settings) at ``database_url``."""
    if not database_url.startswith("sqlite"):
        monkeypatch.setenv("BOTARMY_DATABASE_URL", database_url)
        settings_module.reset_settings()
    return database_url


@pytest.fixture
def store(use_database: str):  # type: ignore[no-untyped-def]
    from botarmy_nb.store.sql import open_store

    return open_store(use_database)


class _SlowScripted:
    """Factory for a provider that answers like `scripted`, but only after a delay."""

    def __init__(self, delay_s: float, fail: bool = False) -> None:
        self.delay_s, self.fail = delay_s, fail

    def __call__(self, spec, context):  # type: ignore[no-untyped-def]
        import asyncio

        from botarmy_nb.models.scripted import ScriptedChatCompletionClient

        outer = self

        class Slow(ScriptedChatCompletionClient):
            async def create(self, messages, **kwargs):  # type: ignore[no-untyped-def]
                await asyncio.sleep(outer.delay_s)
                if outer.fail:
                    raise ConnectionError("provider said no (HTTP 503)")
                return await super().create(messages, **kwargs)

        return Slow(context)


@pytest.fixture
def slow_model() -> Iterator[str]:
    """A registered test provider `slow` (0.2 s per call); yields its model spec."""
    from botarmy_nb.models import registry

    registry.register_provider(
        registry.Provider("slow", _SlowScripted(0.2), default_model="scripted")
    )
    registry.register_provider(
        registry.Provider("broken", _SlowScripted(0.01, fail=True), default_model="scripted")
    )
    yield "slow:scripted"
    registry._REGISTRY.pop("slow", None)
    registry._REGISTRY.pop("broken", None)
