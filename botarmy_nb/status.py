"""Health checks behind ``%botarmy status`` and ``botarmy-nb status``: each ✔/✘ with why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    from botarmy_nb.bus.redis import check_redis, safe_redis_url
    from botarmy_nb.settings import get_settings

    url = get_settings().redis_url
    if not url:
        return Check("redis", True, "not configured: runs use the local executor")
    try:
        check_redis(url)
    except BotArmyError as exc:
        return Check("redis", False, str(exc))
    return Check("redis", True, safe_redis_url(url))


def _executor() -> Check:
    from botarmy_nb.executors.local import get_local_executor
    from botarmy_nb.settings import get_settings

    chosen = get_settings().executor
    if chosen == "celery":
        return Check("executor", True, "celery (runs queued for `botarmy-nb worker` over Redis)")
    executor = get_local_executor()
    state = "running" if executor.started else "starts with the first run"
    return Check("executor", True, f"{chosen} (in-process thread, {state})")


def _short(run_ids: list[str], limit: int = 5) -> str:
    shown = ", ".join(r[:8] for r in run_ids[:limit])
    return shown + (f" … (+{len(run_ids) - limit})" if len(run_ids) > limit else "")


def _workers(timeout: float) -> list[Check]:
    """The Celery workers that answer, their runs, and the queues' depth (Redis only)."""
    from botarmy_nb.settings import get_settings
    from botarmy_nb.worker.monitor import queue_depths, workers

    settings = get_settings()
    try:
        found = workers(timeout)
    except Exception as exc:
        from botarmy_nb.log import redact

        return [Check("workers", False, f"cannot ask the workers: {redact(str(exc))}")]
    if found:
        checks = [Check("workers", True, f"{len(found)} answered within {timeout:g} s")]
        for info in found:
            runs = f"{len(info.active_runs)} active run(s)"
            if info.active_runs:
                runs += ": " + _short(info.active_runs)
            checks.append(Check(f"worker {info.name}", True, runs))
    else:
        checks = [
            Check(
                "workers",
                False,
                f"no worker answered within {timeout:g} s: runs sent with --executor celery "
                "wait as queued (start one with `botarmy-nb worker`)",
            )
        ]
    checks.append(_queues(settings.queue, queue_depths))
    return checks


def _queues(default: str, depths_of: Any) -> Check:
    from botarmy_nb.store.base import open_store

    try:
        queued = [r for r in open_store().list_runs(status="queued") if r.executor == "celery"]
        names = [default, *sorted({r.queue for r in queued if r.queue})]
        depths = depths_of(names)
    except Exception as exc:
        from botarmy_nb.log import redact

        return Check("queue", False, f"cannot read the queue depth: {redact(str(exc))}")
    waiting = ", ".join(f"{name} {count}" for name, count in depths.items())
    return Check("queue", True, f"{len(queued)} run(s) queued; broker messages: {waiting}")


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


def collect_status(*, inspect_timeout: float = 1.0) -> list[Check]:
    """Every check, in display order; workers and queues only when Redis is configured
    (and answers): Celery's inspect waits ``inspect_timeout`` seconds for replies."""
    from botarmy_nb.settings import get_settings

    redis = _redis()
    workers = _workers(inspect_timeout) if get_settings().redis_url and redis.ok else []
    return [_database(), redis, _executor(), *workers, *_providers()]
