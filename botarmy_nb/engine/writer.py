"""Store writes off the run loop: one writer thread per store, retrying transient errors."""

from __future__ import annotations

import concurrent.futures
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from botarmy_nb.errors import StoreError
from botarmy_nb.log import get_logger

__all__ = ["StoreWriter", "writer_for"]

log = get_logger("store")
Job = Callable[[], None]


class StoreWriter:
    """Runs write jobs in order on its own thread, so a slow or locked database never
    stalls a run's event loop (or the other runs on it).

    A job that fails with a transient error (a lock, a dropped connection) is retried with
    backoff until ``budget_s`` has passed; then its future fails with the last reason. The
    jobs behind it wait: per run, batches must land in order.
    """

    def __init__(
        self, name: str, *, budget_s: float, is_transient: Callable[[BaseException], bool]
    ) -> None:
        self.budget_s, self._is_transient = budget_s, is_transient
        self._jobs: queue.SimpleQueue[tuple[Job, concurrent.futures.Future[None]]] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(
            target=self._serve, name=f"botarmy-writer-{name}", daemon=True
        )
        self._thread.start()

    def submit(self, job: Job) -> concurrent.futures.Future[None]:
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._jobs.put((job, future))
        return future

    def _serve(self) -> None:
        while True:
            job, future = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                self._run(job)
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(None)
            # drop the job before waiting for the next: it holds a run's last batch and
            # final team state, which would otherwise stay alive through the next run
            del job, future

    def _run(self, job: Job) -> None:
        deadline = time.monotonic() + self.budget_s
        delay = 0.05
        attempt = 1
        while True:
            try:
                job()
                return
            except Exception as exc:
                if not self._is_transient(exc) or time.monotonic() + delay > deadline:
                    if attempt > 1 and isinstance(exc, StoreError):
                        raise StoreError(
                            f"{exc} (gave up after {attempt} attempts in {self.budget_s:g} s)"
                        ) from exc
                    raise
                log.warning("store write failed; retrying", attempt=attempt, error=str(exc))
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
            attempt += 1


_writers: dict[str, StoreWriter] = {}
_lock = threading.Lock()


def writer_for(store: Any) -> StoreWriter:
    """The process's writer thread for ``store`` (created on first use)."""
    from botarmy_nb.settings import get_settings
    from botarmy_nb.store.sql import is_transient

    with _lock:
        writer = _writers.get(store.url)
        if writer is None:
            writer = _writers[store.url] = StoreWriter(
                store.dialect, budget_s=get_settings().store_retry_s, is_transient=is_transient
            )
        return writer
