"""Numbers a run's events, fans them out live and writes them to the store in batches."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botarmy_nb.events import Event
from botarmy_nb.store.sql import SqlRunStore

__all__ = ["RunRecorder"]

Publish = Callable[[Event], None]


class RunRecorder:
    """The single sequencer of one run: seq 1, 2, 3 … with no gaps, one transaction per batch."""

    def __init__(
        self,
        store: SqlRunStore,
        run_id: str,
        publish: Publish,
        *,
        start_seq: int = 0,
        batch_size: int = 500,
        flush_interval_s: float = 0.25,
    ) -> None:
        self.store, self.run_id, self.publish = store, run_id, publish
        self.seq = start_seq
        self.batch_size, self.flush_interval_s = batch_size, flush_interval_s
        self._pending: list[Event] = []
        self._last_flush = time.monotonic()

    def emit(self, event: Event, *, publish: bool = True, autoflush: bool = True) -> Event:
        """Number the event, hand it to live viewers and queue it for the next batch."""
        self.seq += 1
        event.seq = self.seq
        self._pending.append(event)
        if publish:
            self.publish(event)
        if autoflush and (
            len(self._pending) >= self.batch_size
            or time.monotonic() - self._last_flush >= self.flush_interval_s
        ):
            self.flush()
        return event

    def flush(
        self,
        *,
        run_update: dict[str, Any] | None = None,
        checkpoint: tuple[int, dict[str, Any]] | None = None,
    ) -> None:
        """Write what is pending (plus run fields and a checkpoint) in one transaction."""
        if self._pending or run_update or checkpoint:
            batch = list(self._pending)
            # a failed write keeps its events queued: the next flush retries them (writes
            # are idempotent on (run_id, seq)), so a transient error loses nothing
            self.store.append_events(batch, run_update=run_update, checkpoint=checkpoint)
            del self._pending[: len(batch)]
        self._last_flush = time.monotonic()
