"""The run view says "reconnecting…" while its live feed's server is away, and stops
saying it when the feed is back — never a traceback."""

from __future__ import annotations

import time

import pytest

import botarmy_nb as ba
from botarmy_nb.bus.base import Subscription


def _until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_view_says_reconnecting_while_the_feed_is_away(
    monkeypatch: pytest.MonkeyPatch, slow_model: str
) -> None:
    from botarmy_nb.notebook.live import RECONNECTING, LiveView

    run = ba.run("Write a note", team="review-graph", model=slow_model)
    view = LiveView(run).start()
    away = {"now": False}
    monkeypatch.setattr(Subscription, "reconnecting", property(lambda self: away["now"]))
    away["now"] = True  # e.g. Redis restarting
    _until(lambda: view.transcript.head.get("note") == RECONNECTING)
    away["now"] = False
    _until(lambda: view.transcript.head.get("note") != RECONNECTING)
    run.cancel(grace_s=5)
    assert view._ended.wait(30)
