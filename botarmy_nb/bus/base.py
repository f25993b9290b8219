"""The event-bus seam: publish live events, and subscriptions that read a run's history
from the store, then tail the bus — no gap, no duplicate, off the run's loop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from botarmy_nb.events import TERMINAL_STATUSES, Event, StatusEvent
from botarmy_nb.log import get_logger
from botarmy_nb.store.base import RunStore

__all__ = ["Callback", "EventBus", "LiveFeed", "Subscription"]

log = get_logger("bus")
Callback = Callable[[Event], None]


@runtime_checkable
class LiveFeed(Protocol):
    """One subscriber's queue of a run's live events, filled from the moment it opened
    (and, where the bus keeps them, with recent events from before)."""

    def get(self, timeout: float) -> Event | None: ...
    def close(self) -> None: ...


@runtime_checkable
class EventBus(Protocol):
    """Live delivery of run events; the store stays the source of truth."""

    name: str

    def publish(self, event: Event) -> None: ...
    def feed(self, run_id: str) -> LiveFeed | None: ...


class Subscription:
    """Delivers a run's events to ``callback`` in seq order, each once, on its own thread.

    History comes from the store, live events from the bus feed; a gap between them (a
    batch not yet written) is filled from the store as soon as it lands. A status event
    with ``truncate_after`` (a run marked lost or resumed) is always delivered: the
    callback drops what it saw past that seq. Ends after a terminal status.
    """

    def __init__(
        self,
        store: RunStore,
        run_id: str,
        callback: Callback,
        *,
        feed: LiveFeed | None,
        after_seq: int = 0,
        poll_s: float = 0.25,
    ) -> None:
        self.store, self.run_id, self.callback = store, run_id, callback
        self.last_seq = after_seq
        self._feed, self._poll_s = feed, poll_s
        self._ahead: dict[int, Event] = {}
        self._markers: set[tuple[int, str, int]] = set()
        self._delivered_at = 0.0  # monotonic time of the last delivery
        self._closed = threading.Event()
        self.ended = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, name=f"botarmy-sub-{run_id[:8]}", daemon=True
        )

    @property
    def reconnecting(self) -> bool:
        """Whether the live feed lost its server and is reconnecting (history still
        comes from the store)."""
        return bool(getattr(self._feed, "reconnecting", False))

    def start(self) -> Subscription:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop delivering (the run goes on)."""
        self._closed.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the run's end was delivered; False if ``timeout`` passed first."""
        return self.ended.wait(timeout)

    # -- the delivery thread ----------------------------------------------------------------

    def _serve(self) -> None:
        try:
            self._catch_up()
            last_check = time.monotonic()
            while not self._done():
                event = self._feed.get(self._poll_s) if self._feed else None
                if event is None and self._feed is None:
                    self._closed.wait(self._poll_s)
                if event is not None:
                    self._offer(event)
                if self._done():
                    break
                # the store is read when the feed is quiet, when a gap opened, and when
                # nothing was delivered for a while (events the feed has that are all at
                # or below what we saw: a new attempt after a lost one, whose marker is
                # only in the store) — never on a schedule while events flow: a store
                # read on this thread delays the live event that arrives meanwhile
                stalled = time.monotonic() - max(last_check, self._delivered_at) > 2.0
                if event is None or stalled or self._ahead:
                    self._catch_up(check_record=event is None)
                    last_check = time.monotonic()
        except Exception:  # the store went away: stop quietly, the viewer says so
            log.warning("subscription stopped", run_id=self.run_id, exc_info=True)
        finally:
            if self._feed is not None:
                self._feed.close()
            self.ended.set()

    def _done(self) -> bool:
        return self._closed.is_set() or self.ended.is_set()

    def _offer(self, event: Event) -> None:
        if event.seq == 0:  # a streamed chunk: live only, never numbered
            self._deliver(event)
            return
        if isinstance(event, StatusEvent) and event.truncate_after is not None:
            if _marker_key(event) in self._markers:
                return
            if event.truncate_after < self.last_seq:  # we saw events that were never stored
                self._ahead.clear()
                self.last_seq = event.truncate_after
        if event.seq > self.last_seq:
            self._in_order(event)

    def _in_order(self, event: Event) -> None:
        self._ahead[event.seq] = event
        while self.last_seq + 1 in self._ahead and not self.ended.is_set():
            self._deliver(self._ahead.pop(self.last_seq + 1))

    def _catch_up(self, *, check_record: bool = False) -> None:
        for event in self.store.events(self.run_id, after_seq=self.last_seq):
            self._offer(event)
        if check_record and not self.ended.is_set():
            record = self.store.get_run(self.run_id)  # also marks a dead owner's run lost
            if record.status in TERMINAL_STATUSES and record.last_seq <= self.last_seq:
                # the stored end lies at or below what we saw live (a lost run's marker)
                for event in self.store.events(self.run_id, after_seq=record.last_seq - 1):
                    self._offer(event)

    def _deliver(self, event: Event) -> None:
        self._delivered_at = time.monotonic()
        if event.seq:
            self.last_seq = event.seq
        if isinstance(event, StatusEvent) and event.truncate_after is not None:
            self._markers.add(_marker_key(event))
        try:
            self.callback(event)
        except Exception:  # a broken viewer must never break the run or the feed
            log.warning("event subscriber failed", run_id=self.run_id, exc_info=True)
        terminal = isinstance(event, StatusEvent) and event.status in TERMINAL_STATUSES
        if terminal and (event.status != "lost" or not self._recovers()):  # type: ignore[union-attr]
            self.ended.set()

    def _recovers(self) -> bool:
        """Whether a lost run will be resumed without anyone asking: a worker's run with
        attempts left (the workers' recovery loop requeues it)."""
        from botarmy_nb.settings import get_settings

        record = self.store.get_run(self.run_id, expire=False)
        if record.executor == "local":
            return False  # a local run is resumed only by its user
        if record.status != "lost":
            return True  # already requeued or resumed
        return record.attempts < get_settings().max_attempts


def _marker_key(event: StatusEvent) -> tuple[int, str, int]:
    return (event.seq, event.status, event.truncate_after or 0)
