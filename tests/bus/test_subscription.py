"""Subscriptions: history from the store, then live; no gap, no duplicate; markers."""

from __future__ import annotations

import threading
import time

from botarmy_nb.bus.base import Subscription
from botarmy_nb.bus.local import LocalEventBus
from botarmy_nb.events import MessageEvent, StatusEvent
from botarmy_nb.store.records import NewRun


def _message(run_id: str, seq: int) -> MessageEvent:
    return MessageEvent(run_id=run_id, seq=seq, agent="a", content=f"m{seq}")


def test_bus_ignores_events_of_runs_it_does_not_hold() -> None:
    bus = LocalEventBus()
    bus.publish(_message("x", 1))
    assert not bus.is_active("x") and bus.feed("x") is None
    bus.open("y")
    bus.publish(StatusEvent(run_id="y", seq=1, status="completed"))
    assert bus.feed("y") is None  # ended: subscriptions read the store instead


def test_history_then_live_without_gap_or_duplicate(store) -> None:  # type: ignore[no-untyped-def]
    run_id = "a" * 32
    store.create_run(NewRun(id=run_id, name="r", task="t", model="scripted"))
    bus = LocalEventBus()
    bus.open(run_id)
    events = [_message(run_id, i) for i in range(1, 8)]
    store.append_events(events[:3])  # stored
    for event in events[:5]:  # 4 and 5 published, not yet stored
        bus.publish(event)
    seen: list = []
    done = threading.Event()

    def on_event(event) -> None:  # type: ignore[no-untyped-def]
        seen.append(event.seq)
        if event.type == "status":
            done.set()

    sub = Subscription(store, run_id, on_event, feed=bus.feed(run_id)).start()
    for event in events[5:]:
        bus.publish(event)
    end = StatusEvent(run_id=run_id, seq=8, status="completed")
    store.append_events([*events[3:], end])
    bus.publish(end)
    assert done.wait(10) and sub.join(5)
    assert seen == list(range(1, 9))


def test_late_subscription_reads_everything_from_the_store(store) -> None:  # type: ignore[no-untyped-def]
    run_id = "b" * 32
    store.create_run(NewRun(id=run_id, name="r", task="t", model="scripted"))
    store.append_events([_message(run_id, 1), StatusEvent(run_id=run_id, seq=2, status="failed")])
    seen: list = []
    sub = Subscription(store, run_id, lambda e: seen.append(e.seq), feed=None).start()
    assert sub.join(10) and seen == [1, 2]


def test_a_marker_rewinds_what_a_viewer_saw_live(store) -> None:  # type: ignore[no-untyped-def]
    run_id = "c" * 32
    store.create_run(NewRun(id=run_id, name="r", task="t", model="scripted"))
    bus = LocalEventBus()
    bus.open(run_id)
    store.append_events([_message(run_id, 1)])
    seen: list = []
    sub = Subscription(store, run_id, seen.append, feed=bus.feed(run_id)).start()
    for seq in (1, 2, 3):  # 2 and 3 die with their process, never stored
        bus.publish(_message(run_id, seq))
    deadline = time.monotonic() + 10
    while len(seen) < 3 and time.monotonic() < deadline:  # the viewer saw them live
        time.sleep(0.01)
    lost = StatusEvent(run_id=run_id, seq=2, status="lost", truncate_after=1)
    store.append_events([lost])
    bus.publish(lost)
    assert sub.join(10)
    seen_seqs = [(e.seq, e.type) for e in seen]
    assert seen_seqs == [(1, "message"), (2, "message"), (3, "message"), (2, "status")]
    assert seen[-1].truncate_after == 1
