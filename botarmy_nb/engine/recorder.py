"""Numbers a run's events, fans them out live and hands them to the store in batches."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable
from typing import Any

from botarmy_nb.engine.writer import StoreWriter, writer_for
from botarmy_nb.events import Event
from botarmy_nb.store.base import RunStore

__all__ = ["Publish", "RunRecorder"]

Publish = Callable[[Event], None]


class RunRecorder:
    """The single sequencer of one run: seq 1, 2, 3 … with no gaps, one transaction per batch.

    Batches are written by the store's writer thread (never on the run loop), in order,
    fenced by ``owner``. A write that fails for good surfaces at the next ``emit``/``flush``
    or at ``drain()``, which the runner awaits before it tells anyone the run ended.
    """

    def __init__(
        self,
        store: RunStore,
        run_id: str,
        publish: Publish,
        *,
        owner: str | None = None,
        start_seq: int = 0,
        batch_size: int = 500,
        flush_interval_s: float = 0.25,
        writer: StoreWriter | None = None,
    ) -> None:
        self.store, self.run_id, self.publish, self.owner = store, run_id, publish, owner
        self.seq = start_seq
        self.stored_seq = start_seq  # the highest seq a finished write holds
        self.batch_size, self.flush_interval_s = batch_size, flush_interval_s
        self.autoflush = True
        self._writer = writer or writer_for(store)
        self._pending: list[Event] = []
        self._inflight: list[concurrent.futures.Future[None]] = []
        self._failure: BaseException | None = None
        self._last_flush = time.monotonic()

    def emit(self, event: Event, *, publish: bool = True, autoflush: bool = True) -> Event:
        """Number the event, hand it to live viewers and queue it for the next batch."""
        self.seq += 1
        event.seq = self.seq
        self._pending.append(event)
        if publish:
            self.publish(event)
        if (
            autoflush
            and self.autoflush
            and (
                len(self._pending) >= self.batch_size
                or time.monotonic() - self._last_flush >= self.flush_interval_s
            )
        ):
            self.flush()
        return event

    def due(self) -> bool:
        """Whether a flush is due by time (callers that flush at their own boundaries)."""
        return time.monotonic() - self._last_flush >= self.flush_interval_s

    def flush(
        self,
        *,
        run_update: dict[str, Any] | None = None,
        checkpoint: tuple[int, dict[str, Any]] | None = None,
    ) -> concurrent.futures.Future[None] | None:
        """Hand what is pending (plus run fields and a checkpoint) to the writer as one
        transaction; returns at once. Raises if an earlier batch failed for good."""
        self.check()
        self._last_flush = time.monotonic()
        if not (self._pending or run_update or checkpoint):
            return None
        batch, self._pending = self._pending, []
        top = batch[-1].seq if batch else self.stored_seq
        store, run_id, owner = self.store, self.run_id, self.owner

        def write() -> None:
            if self._failure is not None:  # an earlier batch failed: writing this leaves a gap
                raise self._failure
            store.append_events(
                batch, run_id=run_id, owner=owner, run_update=run_update, checkpoint=checkpoint
            )

        future = self._writer.submit(write)
        future.add_done_callback(lambda f: self._done(f, top))
        self._inflight.append(future)
        return future

    def _done(self, future: concurrent.futures.Future[None], top: int) -> None:
        exc = future.exception()
        if exc is not None:
            self._failure = self._failure or exc
        else:
            self.stored_seq = max(self.stored_seq, top)

    def check(self) -> None:
        """Raise the error of a batch that could not be written (nothing after it is)."""
        self._inflight = [f for f in self._inflight if not f.done()]
        if self._failure is not None:
            raise self._failure

    def rewind(self) -> int:
        """After a batch failed for good: forget what was not stored and go on numbering
        right after the stored tail (returned), so the store stays gap-free."""
        self._inflight, self._pending, self._failure = [], [], None
        self.seq = self.stored_seq
        return self.stored_seq

    async def drain(self) -> None:
        """Wait until every handed-over batch is written; raise if one was not."""
        pending = list(self._inflight)
        if pending:
            await asyncio.gather(*(asyncio.wrap_future(f) for f in pending), return_exceptions=True)
        self.check()

    def drain_sync(self, timeout: float | None = None) -> None:
        """:meth:`drain` for code outside the run loop."""
        concurrent.futures.wait(list(self._inflight), timeout=timeout)
        self.check()
