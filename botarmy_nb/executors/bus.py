"""In-process event fan-out: live subscribers of a run, with replay so nothing is missed."""

from __future__ import annotations

import threading
from collections.abc import Callable

from botarmy_nb.events import TERMINAL_STATUSES, Event, StatusEvent
from botarmy_nb.log import get_logger

__all__ = ["LocalEventBus", "Subscription"]

log = get_logger("bus")
Callback = Callable[[Event], None]


class Subscription:
    def __init__(self, bus: LocalEventBus, run_id: str, callback: Callback) -> None:
        self._bus, self.run_id, self.callback = bus, run_id, callback

    def close(self) -> None:
        self._bus._unsubscribe(self)


class LocalEventBus:
    """Keeps the events of active runs in memory and calls subscribers as events arrive.

    ``subscribe(run_id, cb, after_seq)`` first replays the events it holds after
    ``after_seq`` and then delivers new ones, under one lock: no gap, no duplicate.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._history: dict[str, list[Event]] = {}
        self._subs: dict[str, list[Subscription]] = {}

    def open(self, run_id: str) -> None:
        with self._lock:
            self._history.setdefault(run_id, [])

    def is_active(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._history

    def publish(self, event: Event) -> None:
        with self._lock:
            history = self._history.get(event.run_id)
            if history is None:  # not open, or already ended: late events go nowhere
                return
            history.append(event)
            subs = list(self._subs.get(event.run_id, ()))
            if isinstance(event, StatusEvent) and event.status in TERMINAL_STATUSES:
                self._history.pop(event.run_id, None)
                self._subs.pop(event.run_id, None)
            for sub in subs:
                self._deliver(sub, event)

    def subscribe(
        self, run_id: str, callback: Callback, *, after_seq: int = 0
    ) -> Subscription | None:
        """Subscribe to an active run (None if it is not active: read the store instead)."""
        sub = Subscription(self, run_id, callback)
        with self._lock:  # checked under the lock that publishes the end: no lost race
            if run_id not in self._history:
                return None
            for event in self._history[run_id]:
                if event.seq > after_seq:
                    self._deliver(sub, event)
            self._subs.setdefault(run_id, []).append(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subs.get(sub.run_id, [])
            if sub in subs:
                subs.remove(sub)

    @staticmethod
    def _deliver(sub: Subscription, event: Event) -> None:
        try:
            sub.callback(event)
        except Exception:  # a broken viewer must never break the run
            log.warning("event subscriber failed", run_id=event.run_id, exc_info=True)
