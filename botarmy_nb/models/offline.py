"""The shared base of the clients that need no network (scripted and replay)."""

from __future__ import annotations

from collections.abc import Sequence

from autogen_core.models import (
    ChatCompletionClient,
    LLMMessage,
    ModelInfo,
    RequestUsage,
)
from autogen_core.tools import Tool, ToolSchema

__all__ = ["OfflineClient", "text_of", "words"]


def words(text: str) -> int:
    """Token usage of the offline clients: whitespace-separated words."""
    return len(text.split())


def text_of(message: LLMMessage) -> str:
    content = getattr(message, "content", "")
    if isinstance(content, str):
        return content
    return " ".join(str(part) for part in content)


class OfflineClient(ChatCompletionClient):
    """Usage bookkeeping, token counting and model info for clients without a server.

    Subclasses implement ``create`` and ``create_stream`` and call :meth:`_count`.
    """

    component_type = "model"
    context_tokens = 128_000

    def __init__(self) -> None:
        self._last = RequestUsage(prompt_tokens=0, completion_tokens=0)
        self._total = RequestUsage(prompt_tokens=0, completion_tokens=0)

    def _count(self, usage: RequestUsage) -> RequestUsage:
        self._last = usage
        self._total = RequestUsage(
            prompt_tokens=self._total.prompt_tokens + usage.prompt_tokens,
            completion_tokens=self._total.completion_tokens + usage.completion_tokens,
        )
        return usage

    async def close(self) -> None:
        return None

    def actual_usage(self) -> RequestUsage:
        return self._last

    def total_usage(self) -> RequestUsage:
        return self._total

    def count_tokens(
        self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []
    ) -> int:
        return sum(words(text_of(m)) for m in messages)

    def remaining_tokens(
        self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []
    ) -> int:
        return self.context_tokens - self.count_tokens(messages)

    @property
    def capabilities(self) -> ModelInfo:  # type: ignore[override]
        return self.model_info

    @property
    def model_info(self) -> ModelInfo:
        return ModelInfo(
            vision=False,
            function_calling=True,
            json_output=False,
            family="unknown",
            structured_output=False,
            multiple_system_messages=True,
        )
