"""The normalized run events (DESIGN §4): one ordered, seq-numbered stream per run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

__all__ = [
    "RUN_STATUSES",
    "TERMINAL_STATUSES",
    "ArtifactEvent",
    "ChunkEvent",
    "ErrorEvent",
    "Event",
    "HitlRequestEvent",
    "HitlResponseEvent",
    "MessageEvent",
    "ModelCallEvent",
    "RunStatus",
    "StatusEvent",
    "StepEvent",
    "ToolCallEvent",
    "parse_event",
    "utcnow",
]

RunStatus = Literal["queued", "running", "completed", "failed", "cancelled", "lost"]
# ``lost``: the owner stopped heart-beating past its lease; the run can be resumed.
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled", "lost"})
RUN_STATUSES: tuple[str, ...] = ("queued", "running", "completed", "failed", "cancelled", "lost")


def utcnow() -> datetime:
    return datetime.now(UTC)


class _EventBase(BaseModel):
    run_id: str
    seq: int = 0  # assigned by the run's sequencer; 1, 2, 3 ... with no gaps
    created_at: datetime = Field(default_factory=utcnow)
    agent: str | None = None


class StatusEvent(_EventBase):
    type: Literal["status"] = "status"
    # a run status, or ``continued``: a finished team run goes on with a new message
    status: RunStatus | Literal["continued"]
    reason: str | None = None
    # Set when a run is marked lost or resumed: a viewer drops events it saw with a higher
    # seq than this (they were published live by a process that died before storing them).
    truncate_after: int | None = None


class MessageEvent(_EventBase):
    """Something an agent (or the user) said."""

    type: Literal["message"] = "message"
    kind: str = "text"  # text | thought | handoff | tool_summary | stop | task
    content: str
    model: str | None = None


class StepEvent(_EventBase):
    """A workflow step boundary: started, finished or skipped (with why)."""

    type: Literal["step"] = "step"
    step: int  # 1-based position in the workflow's sequence
    label: str
    phase: Literal["started", "finished", "skipped"]
    artifact: str | None = None
    reason: str | None = None
    # what the user should know: an ambiguous or missing template, unfilled placeholders
    warning: str | None = None
    decision: str | None = None  # a condition's verdict ("yes"/"no") or the route taken
    decided_by: str | None = None  # "variables", an agent id, or "human"


class ChunkEvent(_EventBase):
    """A streamed piece of an agent's reply: live viewers only, never stored or numbered
    (the agent's final message replaces its chunks)."""

    type: Literal["chunk"] = "chunk"
    content: str


class ModelCallEvent(_EventBase):
    type: Literal["model_call"] = "model_call"
    provider: str
    model: str
    prompt_tokens: int | None = 0  # None: the provider did not say (unknown, never 0)
    completion_tokens: int | None = 0
    latency_s: float = 0.0
    ttft_s: float | None = None
    cost_usd: float | None = None
    status: str = "ok"
    error: str | None = None
    cached: bool = False


class ToolCallEvent(_EventBase):
    type: Literal["tool_call"] = "tool_call"
    phase: Literal["request", "result"]
    calls: list[dict[str, Any]] = Field(default_factory=list)


class HitlRequestEvent(_EventBase):
    type: Literal["hitl_request"] = "hitl_request"
    request_id: str
    prompt: str
    options: list[str] = Field(default_factory=list)
    expires_at: datetime | None = None  # None: no human attached, answered by default at once


class HitlResponseEvent(_EventBase):
    type: Literal["hitl_response"] = "hitl_response"
    request_id: str
    response: str
    outcome: Literal["answered", "expired", "default"] = "answered"


class ArtifactEvent(_EventBase):
    type: Literal["artifact"] = "artifact"
    name: str
    content: str
    format: str = "markdown"
    template: str | None = None
    path: str | None = None


class ErrorEvent(_EventBase):
    type: Literal["error"] = "error"
    error_type: str
    message: str


Event = Annotated[
    StepEvent
    | ChunkEvent
    | StatusEvent
    | MessageEvent
    | ModelCallEvent
    | ToolCallEvent
    | HitlRequestEvent
    | HitlResponseEvent
    | ArtifactEvent
    | ErrorEvent,
    Field(discriminator="type"),
]

_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

# Fields kept in their own columns of the events table, not in the payload JSON.
COLUMN_FIELDS = frozenset({"run_id", "seq", "created_at", "agent", "type"})
# The field copied into events.kind, a short subtype for fast filtering (also in the payload).
KIND_FIELDS = {
    "message": "kind",
    "status": "status",
    "model_call": "status",
    "tool_call": "phase",
    "error": "error_type",
    "step": "phase",
    "artifact": "format",
}


def parse_event(data: dict[str, Any]) -> Event:
    """Rebuild a pydantic event from its stored form."""
    return _ADAPTER.validate_python(data)
