"""Health checks behind ``%botarmy status`` and ``botarmy-nb status``: each ✔/✘ with why."""

from __future__ import annotations

from dataclasses import dataclass

from botarmy_nb.errors import BotArmyError

__all__ = ["Check", "collect_status"]


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _database() -> Check:
    from botarmy_nb.settings import get_settings
    from botarmy_nb.store.database import safe_url
    from botarmy_nb.store.migrate import current_revision
    from botarmy_nb.store.sql import open_store

    url = get_settings().effective_database_url
    try:
        store = open_store(url)
        revision = current_revision(store.engine)
    except BotArmyError as exc:
        return Check("database", False, str(exc))
    return Check("database", True, f"{safe_url(url)} (schema {revision})")


def _redis() -> Check:
    from botarmy_nb.settings import get_settings
    from botarmy_nb.store.database import safe_url

    url = get_settings().redis_url
    if not url:
        return Check("redis", True, "not configured: runs use the local executor")
    try:
        import redis
    except ImportError:
        return Check("redis", False, "pip install 'botarmy-nb[redis]'")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:
        return Check("redis", False, f"{safe_url(url)}: {exc}")
    return Check("redis", True, safe_url(url))


def _executor() -> Check:
    from botarmy_nb.executors.local import get_local_executor

    executor = get_local_executor()
    state = "running" if executor.started else "starts with the first run"
    return Check("executor", True, f"local (in-process thread, {state})")


def _providers() -> list[Check]:
    from botarmy_nb.models.registry import known_providers
    from botarmy_nb.settings import provider_key

    checks = []
    for name, provider in sorted(known_providers().items()):
        if provider.key_variable is None:
            checks.append(Check(f"{name}", True, provider.description or "no key needed"))
        elif provider_key(provider.key_variable):
            checks.append(Check(name, True, f"{provider.key_variable} is set"))
        else:
            checks.append(Check(name, False, f"{provider.key_variable} is not set"))
    return checks


def collect_status() -> list[Check]:
    return [_database(), _redis(), _executor(), *_providers()]
