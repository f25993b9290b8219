"""What a worker does with a run's task: claim the run, execute it with the engine the
local executor uses, enforce its timeout, and fail runs that cannot (or must not) run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from botarmy_nb.engine.lease import RunControl, process_owner
from botarmy_nb.errors import StoreError
from botarmy_nb.events import ErrorEvent, StatusEvent, utcnow
from botarmy_nb.log import get_logger
from botarmy_nb.store.base import RunStore
from botarmy_nb.store.records import RunRecord
from botarmy_nb.worker.payload import PayloadError, TaskPayload

__all__ = ["StoreDownError", "fail_run", "handle"]

log = get_logger("worker")


class StoreDownError(StoreError):
    """The run store stayed unreachable while a task tried to claim its run: the task is
    retried later (the message is not lost)."""


def _claim(store: RunStore, run_id: str, owner: str, statuses: Sequence[str]) -> RunRecord | None:
    """``store.claim_run``, riding out a database restart for a while."""
    from botarmy_nb.settings import get_settings
    from botarmy_nb.store.sql import is_transient

    settings = get_settings()
    deadline = time.monotonic() + settings.store_retry_s
    delay = 0.1
    while True:
        try:
            return store.claim_run(run_id, owner, statuses=statuses, lease_s=settings.lease_s)
        except StoreError as exc:
            if not is_transient(exc):
                raise
            if time.monotonic() + delay > deadline:
                raise StoreDownError(str(exc)) from exc
            log.warning("run store unreachable; retrying the claim", run_id=run_id, error=str(exc))
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def _publish(event: Any) -> None:
    from botarmy_nb.bus.redis import redis_bus

    redis_bus().publish(event)


def end_owned(store: RunStore, record: RunRecord, owner: str, reason: str) -> None:
    """Fail a run this process has just claimed, before executing anything: an error and
    a final status event, written fenced, then told to live viewers."""
    seq = record.last_seq
    events = [
        ErrorEvent(run_id=record.id, seq=seq + 1, error_type="RunError", message=reason),
        StatusEvent(run_id=record.id, seq=seq + 2, status="failed", reason=reason),
    ]
    store.append_events(
        events,
        run_id=record.id,
        owner=owner,
        run_update={
            "status": "failed",
            "finished_at": utcnow(),
            "stop_reason": reason,
            "error": reason,
            "cancel_requested": None,
        },
    )
    for event in events:
        _publish(event)
    log.warning("run failed before it started", run_id=record.id, reason=reason)


def fail_run(store: RunStore, run_id: str, *, statuses: Sequence[str], reason: str) -> bool:
    """Fail a run nobody executes (its status is one of ``statuses``), with events; False
    if another process holds it."""
    owner = process_owner()
    claimed = _claim(store, run_id, owner, statuses)
    if claimed is None:
        return False
    end_owned(store, claimed, owner, reason)
    return True


def handle(payload: Any) -> str:
    """Execute the run a task names, if nobody else holds it; returns what happened
    (the run's final status, or ``skipped``). Run failures end the run, never the task."""
    from botarmy_nb.settings import get_settings
    from botarmy_nb.store.base import open_store

    store = open_store()
    try:
        message = TaskPayload.parse(payload)
    except PayloadError as exc:
        if exc.run_id is None:
            log.error("task refused: it names no run", error=str(exc))
            return "refused"
        fail_run(store, exc.run_id, statuses=["queued"], reason=str(exc))
        return "failed"
    run_id, owner = message.run_id, process_owner()
    record = _claim(store, run_id, owner, ["queued"])
    if record is None:  # finished, cancelled, or executing elsewhere: a stale message
        log.info("task skipped: the run is not queued", run_id=run_id)
        return "skipped"
    settings = get_settings()
    if record.attempts > settings.max_attempts:
        end_owned(store, record, owner, _too_many(record.attempts - 1, settings.max_attempts))
        return "failed"
    return asyncio.run(_execute(store, record, owner))


def _too_many(attempts: int, limit: int) -> str:
    return (
        f"the run killed its worker {attempts} times (BOTARMY_MAX_ATTEMPTS={limit}); "
        "it is not retried automatically: fix the cause, then ba.resume it"
    )


async def _execute(store: RunStore, record: RunRecord, owner: str) -> str:
    """The coroutine each task runs under its own ``asyncio.run``: the team is built
    inside it (DESIGN §5), with a watchdog for the run's timeout."""
    from botarmy_nb.bus.redis import redis_bus
    from botarmy_nb.engine.runner import execute_run
    from botarmy_nb.settings import get_settings

    bus = redis_bus()
    if record.last_seq > 0:  # a resumed run: viewers must not replay a dead attempt's tail
        bus.reset(record.id)
    control = RunControl()
    timed_out = asyncio.Event()
    watchdog = None
    if record.timeout_s:
        started = record.started_at or utcnow()
        left = record.timeout_s - (utcnow() - started).total_seconds()
        watchdog = asyncio.create_task(
            _watch(
                control,
                max(0.0, left),
                get_settings().cancel_grace_s,
                timed_out,
                f"timed out after {record.timeout_s:g} s",
            )
        )
    try:
        status = await execute_run(
            record.id, store, publish=bus.publish, owner=owner, control=control
        )
    except StoreError as exc:  # the end could not be stored: the lease runs out, and the
        # recovery loop of some worker resumes the run
        log.warning("run end not recorded; its lease will expire", run_id=record.id, error=str(exc))
        return "lost"
    finally:
        if watchdog is not None:
            watchdog.cancel()
    return status


async def _watch(
    control: RunControl, after_s: float, grace_s: float, fired: asyncio.Event, reason: str
) -> None:
    """The run's timeout: a graceful stop (after the current message), then a hard one."""
    await asyncio.sleep(after_s)
    fired.set()
    control.request_stop(reason)
    await asyncio.sleep(grace_s)
    control.hard_stop(reason)
