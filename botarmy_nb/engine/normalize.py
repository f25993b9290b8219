"""AutoGen AgentChat messages → botarmy events (without seq; the recorder numbers them)."""

from __future__ import annotations

from autogen_agentchat.messages import (
    BaseAgentEvent,
    BaseChatMessage,
    HandoffMessage,
    StopMessage,
    TextMessage,
    ThoughtEvent,
    ToolCallExecutionEvent,
    ToolCallRequestEvent,
    ToolCallSummaryMessage,
)

from botarmy_nb.events import Event, MessageEvent, ToolCallEvent
from botarmy_nb.text import storable

__all__ = ["normalize"]

_KINDS: dict[type, str] = {
    TextMessage: "text",
    StopMessage: "stop",
    HandoffMessage: "handoff",
    ToolCallSummaryMessage: "tool_summary",
}


def normalize(
    message: BaseChatMessage | BaseAgentEvent, *, run_id: str, models: dict[str, str]
) -> Event | None:
    """One event for a message worth keeping; None for transient ones (chunks, selections)."""
    source = message.source
    if isinstance(message, BaseChatMessage):
        kind = "task" if source == "user" else _KINDS.get(type(message), type(message).__name__)
        return MessageEvent(
            run_id=run_id,
            agent=source,
            kind=kind,
            content=storable(message.to_text()),
            model=models.get(source),
        )
    if isinstance(message, ThoughtEvent):
        return MessageEvent(
            run_id=run_id,
            agent=source,
            kind="thought",
            content=storable(message.content),
            model=models.get(source),
        )
    if isinstance(message, ToolCallRequestEvent):
        calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in message.content]
        return ToolCallEvent(run_id=run_id, agent=source, phase="request", calls=calls)
    if isinstance(message, ToolCallExecutionEvent):
        results = [
            {
                "call_id": r.call_id,
                "name": r.name,
                "content": r.content,
                "is_error": bool(r.is_error),
            }
            for r in message.content
        ]
        return ToolCallEvent(run_id=run_id, agent=source, phase="result", calls=results)
    return None
