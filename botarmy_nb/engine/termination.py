"""One termination condition for a run: stop word, message cap, timeout and graceful stop.

AutoGen's ``a | b | c`` checks each condition in ``asyncio.gather`` for every message,
which costs two tasks per message per ``|``; this checks everything in one pass, with
AutoGen's own stop-reason wording.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from autogen_agentchat.base import TerminatedException, TerminationCondition
from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, StopMessage

__all__ = ["RunTermination"]


class RunTermination(TerminationCondition):
    """Stops when an agent says ``text``, after ``max_messages`` chat messages, after
    ``timeout_s`` (checked when a message arrives), or once :meth:`set` was called."""

    def __init__(
        self,
        *,
        text: str | None,
        sources: Sequence[str],
        max_messages: int | None,
        timeout_s: float | None,
    ) -> None:
        self._text, self._sources = text, frozenset(sources)
        self._max_messages, self._timeout_s = max_messages, timeout_s
        self._stop_requested = False
        self._terminated = False
        self._count = 0
        self._started = time.monotonic()

    def resume_at(self, count: int) -> None:
        """A run resumed from a checkpoint: ``count`` chat messages of this segment were
        said before (a team's saved state does not hold its condition's count)."""
        self._count = count

    def set(self) -> None:
        """Graceful stop: the team ends when the next message arrives (thread-unsafe: call
        it on the run's loop)."""
        self._stop_requested = True

    @property
    def terminated(self) -> bool:
        return self._terminated

    def _stop(self, reason: str) -> StopMessage:
        self._terminated = True
        return StopMessage(content=reason, source="RunTermination")

    async def __call__(
        self, messages: Sequence[BaseAgentEvent | BaseChatMessage]
    ) -> StopMessage | None:
        if self._terminated:
            raise TerminatedException("Termination condition has already been reached")
        if self._stop_requested:
            return self._stop("External termination requested")
        for message in messages:
            if not isinstance(message, BaseChatMessage):
                continue
            self._count += 1
            if self._text and message.source in self._sources and self._text in (message.to_text()):
                return self._stop(f"Text '{self._text}' mentioned")
        if self._max_messages is not None and self._count >= self._max_messages:
            return self._stop(
                f"Maximum number of messages {self._max_messages} reached, "
                f"current message count: {self._count}"
            )
        if self._timeout_s is not None and time.monotonic() - self._started >= self._timeout_s:
            return self._stop(f"Timeout of {self._timeout_s} seconds reached")
        return None

    async def reset(self) -> None:
        self._terminated = self._stop_requested = False
        self._count = 0
        self._started = time.monotonic()
