"""The recovery loop every worker runs: find runs whose owner stopped heart-beating, and
queue the Celery ones again (they resume from their last checkpoint) or fail them."""

from __future__ import annotations

import threading
from collections.abc import Callable

from botarmy_nb.log import get_logger
from botarmy_nb.store.base import RunStore
from botarmy_nb.store.records import RunRecord

__all__ = ["RecoveryLoop", "recover_once"]

log = get_logger("worker.recovery")
Send = Callable[[RunRecord], None]


def recover_once(
    store: RunStore,
    send: Send,
    *,
    max_attempts: int,
    unsent: dict[str, RunRecord] | None = None,
) -> list[str]:
    """One pass: mark expired leases ``lost``; requeue each lost Celery run (one worker
    wins each, the store's update is conditional) and ``send`` its task again, or fail it
    once it has used ``max_attempts``. Local runs are left to the user (``ba.resume``).

    A run queued again whose task could not be sent (Redis away) waits in ``unsent`` and
    is sent on a later pass (a duplicate task is harmless: claims are conditional).
    Returns the ids of the runs queued again."""
    from botarmy_nb.worker.task import _too_many, fail_run

    unsent = {} if unsent is None else unsent
    for run_id, record in list(unsent.items()):
        send(record)  # raises while Redis is away: the loop retries next pass
        del unsent[run_id]
    store.expire_leases()
    requeued: list[str] = []
    for record in store.list_runs(status="lost"):
        if record.executor != "celery":
            continue
        if record.attempts >= max_attempts:
            if fail_run(
                store,
                record.id,
                statuses=["lost"],
                reason=_too_many(record.attempts, max_attempts),
            ):
                log.warning("run failed: too many attempts", run_id=record.id)
            continue
        queued = store.requeue_run(record.id, statuses=["lost"], executor="celery")
        if queued is None:  # another worker's loop took it
            continue
        unsent[queued.id] = queued
        send(queued)
        del unsent[queued.id]
        requeued.append(record.id)
        log.warning("lost run queued again", run_id=record.id, attempts=record.attempts)
    return requeued


class RecoveryLoop:
    """A daemon thread running :func:`recover_once` every ``interval_s`` seconds.

    With the default 10 s lease and a 5 s interval, a run whose worker was SIGKILLed is
    queued again within about 15 s and picked up by any worker with a free slot.
    """

    def __init__(
        self,
        store: RunStore,
        send: Send,
        *,
        interval_s: float,
        max_attempts: int,
    ) -> None:
        self.store, self.send = store, send
        self.interval_s, self.max_attempts = interval_s, max_attempts
        self._unsent: dict[str, RunRecord] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="botarmy-recovery", daemon=True)

    def start(self) -> RecoveryLoop:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _serve(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                recover_once(
                    self.store, self.send, max_attempts=self.max_attempts, unsent=self._unsent
                )
            except Exception as exc:  # the database or Redis is away: the next pass retries
                log.warning("recovery pass failed", error=str(exc))
