"""Pydantic events → table rows for the write path, with text every database accepts."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from pydantic_core import to_json

from botarmy_nb.events import COLUMN_FIELDS, KIND_FIELDS, ArtifactEvent, Event, ModelCallEvent
from botarmy_nb.text import storable
from botarmy_nb.text import storable_tree as clean

__all__ = [
    "EVENT_COLUMNS",
    "artifact_row",
    "aware",
    "clean",
    "event_copy_row",
    "event_row",
    "model_call_row",
]

# an events row's columns, in the order of event_copy_row's values
EVENT_COLUMNS = ("run_id", "seq", "type", "kind", "agent", "content", "payload", "created_at")


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@functools.cache
def _payload_keys(event_type: type) -> tuple[str, ...]:
    """The fields of an event class that go into the payload JSON (not into columns)."""
    return tuple(k for k in event_type.model_fields if k not in COLUMN_FIELDS and k != "content")


def _text(value: Any) -> Any:
    """:func:`clean` for one column value, without the tree walk when it is plain text."""
    if value.__class__ is str:
        return value if value.isascii() and "\x00" not in value else storable(value)
    return value if value is None else clean(value)


_PLAIN = (type(None), int, float, bool)


def _payload(fields: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The payload dict, cleaned only if a value needs it: most payloads are a few ASCII
    strings and numbers (field names, the keys, are always ASCII)."""
    payload = {k: fields[k] for k in keys}
    for value in payload.values():
        if value.__class__ in _PLAIN:
            continue
        if value.__class__ is str and value.isascii() and "\x00" not in value:
            continue
        return clean(payload)  # type: ignore[no-any-return]
    return payload


def event_row(event: Event) -> dict[str, Any]:
    # Built from __dict__ rather than model_dump(): this is the hot path of every run.
    fields = event.__dict__
    event_type = fields["type"]
    content = fields["message"] if event_type == "error" else fields.get("content")
    kind = KIND_FIELDS.get(event_type)
    return {
        "run_id": fields["run_id"],
        "seq": fields["seq"],
        "type": event_type,
        "kind": _text(fields[kind]) if kind else None,
        "agent": _text(fields["agent"]),
        "content": _text(content),
        "payload": _payload(fields, _payload_keys(type(event))),
        "created_at": fields["created_at"],
    }


def event_copy_row(event: Event) -> tuple[Any, ...]:
    """:func:`event_row`'s values in ``EVENT_COLUMNS`` order with the payload as JSON
    text: a PostgreSQL COPY row, made while the COPY streams (no dict that outlives it)."""
    fields = event.__dict__
    event_type = fields["type"]
    content = fields["message"] if event_type == "error" else fields.get("content")
    kind = KIND_FIELDS.get(event_type)
    return (
        fields["run_id"],
        fields["seq"],
        event_type,
        _text(fields[kind]) if kind else None,
        _text(fields["agent"]),
        _text(content),
        to_json(_payload(fields, _payload_keys(type(event)))).decode(),
        fields["created_at"],
    )


def model_call_row(event: ModelCallEvent) -> dict[str, Any]:
    return {
        "run_id": event.run_id,
        "seq": event.seq,
        "agent": clean(event.agent),
        "provider": clean(event.provider),
        "model": clean(event.model),
        "prompt_tokens": event.prompt_tokens,
        "completion_tokens": event.completion_tokens,
        "latency_s": event.latency_s,
        "ttft_s": event.ttft_s,
        "cost_usd": event.cost_usd,
        "status": clean(event.status),
        "error": clean(event.error),
        "cached": event.cached,
        "created_at": event.created_at,
    }


def artifact_row(event: ArtifactEvent) -> dict[str, Any]:
    return {
        "run_id": event.run_id,
        "seq": event.seq,
        "name": clean(event.name),
        "agent": clean(event.agent),
        "template": clean(event.template),
        "content": clean(event.content),
        "format": clean(event.format),
        "path": clean(event.path),
        "created_at": event.created_at,
    }
