"""Pydantic events → table rows for the write path, with text every database accepts."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from botarmy_nb.events import COLUMN_FIELDS, KIND_FIELDS, ArtifactEvent, Event, ModelCallEvent
from botarmy_nb.text import storable_tree as clean

__all__ = ["artifact_row", "aware", "clean", "event_row", "model_call_row"]


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@functools.cache
def _payload_keys(event_type: type) -> tuple[str, ...]:
    """The fields of an event class that go into the payload JSON (not into columns)."""
    return tuple(k for k in event_type.model_fields if k not in COLUMN_FIELDS and k != "content")


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
        "kind": clean(fields[kind]) if kind else None,
        "agent": clean(fields["agent"]),
        "content": clean(content),
        "payload": clean({k: fields[k] for k in _payload_keys(type(event))}),
        "created_at": fields["created_at"],
    }


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
