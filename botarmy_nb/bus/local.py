"""The in-process event bus: live events of this process's runs, fanned out to feeds."""

from __future__ import annotations

import queue
import threading
from collections import deque

from botarmy_nb.events import TERMINAL_STATUSES, Event, StatusEvent

__all__ = ["LocalEventBus", "local_bus"]

RECENT = 2000  # events kept per active run, so a new feed starts with no gap to the store


class _Feed:
    def __init__(self, bus: LocalEventBus, run_id: str) -> None:
        self._bus, self.run_id = bus, run_id
        self.queue: queue.SimpleQueue[Event] = queue.SimpleQueue()

    def get(self, timeout: float) -> Event | None:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._bus._drop(self)


class LocalEventBus:
    """Publishing costs a lock and a queue put per feed: subscribers run elsewhere."""

    name = "local"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._recent: dict[str, deque[Event]] = {}
        self._feeds: dict[str, list[_Feed]] = {}

    def open(self, run_id: str) -> None:
        """Start keeping the recent events of a run this process executes."""
        with self._lock:
            self._recent.setdefault(run_id, deque(maxlen=RECENT))

    def is_active(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._recent

    def publish(self, event: Event) -> None:
        with self._lock:
            recent = self._recent.get(event.run_id)
            if recent is None:  # not open, or already ended: late events go nowhere
                return
            if event.seq:
                recent.append(event)
            for feed in self._feeds.get(event.run_id, ()):
                feed.queue.put(event)
            if isinstance(event, StatusEvent) and event.status in TERMINAL_STATUSES:
                self._recent.pop(event.run_id, None)

    def feed(self, run_id: str) -> _Feed | None:
        """A feed of the run's live events (None if no run of this process is active)."""
        feed = _Feed(self, run_id)
        with self._lock:
            recent = self._recent.get(run_id)
            if recent is None:
                return None
            for event in recent:
                feed.queue.put(event)
            self._feeds.setdefault(run_id, []).append(feed)
        return feed

    def _drop(self, feed: _Feed) -> None:
        with self._lock:
            feeds = self._feeds.get(feed.run_id, [])
            if feed in feeds:
                feeds.remove(feed)
            if not feeds:
                self._feeds.pop(feed.run_id, None)


_bus = LocalEventBus()


def local_bus() -> LocalEventBus:
    """This process's in-memory bus."""
    return _bus
