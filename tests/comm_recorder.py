"""Widget comms without a front end: record what the kernel side sends, and deliver
front-end messages (a click, a typed value) the way ipykernel would."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from comm.base_comm import BaseComm

Sent = list[tuple[str, str, dict[str, Any]]]


class RecordingComm(BaseComm):
    """A comm whose messages land in ``sent`` (shared by every comm of a test)."""

    sent: ClassVar[Sent] = []
    kernel = object()  # widgets only send state through a comm that has a kernel

    def publish_msg(  # type: ignore[override]
        self,
        msg_type: str,
        data: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        buffers: Any = None,
        **keys: Any,
    ) -> None:
        self.sent.append((self.comm_id, msg_type, data or {}))


def record_comms(monkeypatch: pytest.MonkeyPatch) -> Sent:
    """Make every widget created from now on talk through a RecordingComm; returns the
    log of what they send (comm id, message type, data). Call it from a fixture."""
    import comm

    sent: Sent = []
    monkeypatch.setattr(RecordingComm, "sent", sent)
    monkeypatch.setattr(comm, "create_comm", lambda *a, **k: RecordingComm(*a, **k))
    return sent


def click(button: Any) -> None:
    """A click as the front end sends it: a custom comm message to the button's model."""
    button.comm.handle_msg(
        {"content": {"data": {"method": "custom", "content": {"event": "click"}}}, "buffers": []}
    )


def type_into(widget: Any, value: Any, name: str = "value") -> None:
    """A value changed in the browser: a state update message to the widget's model."""
    widget.comm.handle_msg(
        {
            "content": {"data": {"method": "update", "state": {name: value}, "buffer_paths": []}},
            "buffers": [],
        }
    )


def states_sent(sent: Sent, comm_id: str) -> list[dict[str, Any]]:
    """The state updates the kernel sent to one widget's view, in order."""
    return [
        data["state"]
        for cid, kind, data in sent
        if cid == comm_id and kind == "comm_msg" and data.get("method") == "update"
    ]


def choose(widget: Any, *values: Any) -> None:
    """A pick in a Dropdown, ToggleButtons or Select(Multiple): the front end sends the
    option's index (selection widgets do not sync ``value``)."""
    options = [o[1] if isinstance(o, tuple) else o for o in widget.options]
    indexes = [options.index(v) for v in values]
    multiple = isinstance(widget.index, tuple)
    type_into(widget, indexes if multiple else indexes[0], name="index")
