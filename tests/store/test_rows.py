"""Event rows for the write path: the COPY row and the INSERT row of an event agree, and
text no database accepts (NUL, lone surrogates) is replaced wherever it sits."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic_core import from_json

from botarmy_nb.events import ErrorEvent, MessageEvent, StatusEvent, ToolCallEvent
from botarmy_nb.store.rows import EVENT_COLUMNS, event_copy_row, event_row
from botarmy_nb.text import storable

RUN = "a" * 32
EVENTS: list[Any] = [
    MessageEvent(run_id=RUN, seq=1, agent="writer", content="plain", model="p:m"),
    MessageEvent(run_id=RUN, seq=2, agent="wri\x00ter", content="a\x00b", kind="th\x00ought"),
    MessageEvent(run_id=RUN, seq=3, agent="é", content="lone \ud800 surrogate", model="m\ud800"),
    ErrorEvent(run_id=RUN, seq=4, error_type="Boom", message="bad\x00"),
    ToolCallEvent(run_id=RUN, seq=5, phase="request", calls=[{"args": {"q": "x\x00"}, "n": 1}]),
    StatusEvent(run_id=RUN, seq=6, status="completed", reason=None),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: f"{e.type}-{e.seq}")
def test_the_copy_row_is_the_insert_row_in_column_order(event: Any) -> None:
    row = event_row(event)
    copied = dict(zip(EVENT_COLUMNS, event_copy_row(event), strict=True))
    assert from_json(copied.pop("payload")) == row.pop("payload")
    assert copied == {k: v for k, v in row.items() if k != "payload"}


def test_text_no_database_accepts_is_replaced_everywhere() -> None:
    for event in EVENTS:
        row = event_row(event)
        text = repr(row)
        assert "\\x00" not in text and "\\ud800" not in text, event
    assert event_row(EVENTS[1])["content"] == "a\ufffdb"
    assert event_row(EVENTS[1])["kind"] == "th\ufffdought"
    assert event_row(EVENTS[2])["payload"]["model"] == storable("m\ud800")
    assert event_row(EVENTS[4])["payload"]["calls"] == [{"args": {"q": "x\ufffd"}, "n": 1}]
    plain = event_row(EVENTS[0])
    assert plain["payload"] == {"kind": "text", "model": "p:m"} and plain["agent"] == "writer"
