"""A ChatCompletionClient wrapper that turns every model call into a ModelCallEvent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import Any

from autogen_core import CancellationToken
from autogen_core.models import (
    ChatCompletionClient,
    CreateResult,
    LLMMessage,
    ModelInfo,
    RequestUsage,
)
from autogen_core.tools import Tool, ToolSchema

from botarmy_nb.events import ModelCallEvent
from botarmy_nb.log import get_logger
from botarmy_nb.models.spec import ModelSpec

__all__ = ["MeteredClient"]

log = get_logger("models")

Emit = Callable[[ModelCallEvent], None]


class MeteredClient(ChatCompletionClient):
    """Times each call and reports tokens (from the model's usage), latency and errors."""

    component_type = "model"

    def __init__(
        self,
        inner: ChatCompletionClient,
        spec: ModelSpec,
        *,
        run_id: str,
        agent: str,
        emit: Emit,
    ) -> None:
        self._inner, self._spec, self._run_id, self._agent, self._emit = (
            inner,
            spec,
            run_id,
            agent,
            emit,
        )

    def _report(
        self,
        started: float,
        result: CreateResult | None,
        error: BaseException | None,
        ttft: float | None = None,
    ) -> None:
        usage = result.usage if result is not None else RequestUsage(0, 0)
        log.debug(
            "model call",
            agent=self._agent,
            provider=self._spec.provider,
            model=self._spec.model,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            error=None if error is None else str(error),
        )
        self._emit(
            ModelCallEvent(
                run_id=self._run_id,
                agent=self._agent,
                provider=self._spec.provider,
                model=self._spec.model,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                latency_s=time.perf_counter() - started,
                ttft_s=ttft,
                status="ok" if error is None else "error",
                error=None if error is None else f"{type(error).__name__}: {error}",
                cached=bool(result.cached) if result is not None else False,
            )
        )

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Any = "auto",
        json_output: bool | type | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        started = time.perf_counter()
        call = asyncio.ensure_future(
            self._inner.create(
                messages,
                tools=tools,
                tool_choice=tool_choice,
                json_output=json_output,
                extra_create_args=extra_create_args,
                cancellation_token=cancellation_token,
            )
        )
        if cancellation_token is not None:
            # every provider becomes abortable by a hard stop, whether it links the token or not
            cancellation_token.link_future(call)
        try:
            result = await call
        except asyncio.CancelledError:
            self._report(started, None, asyncio.CancelledError("cancelled"))
            raise
        except Exception as exc:
            self._report(started, None, exc)
            raise
        self._report(started, result, None)
        return result

    async def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Any = "auto",
        json_output: bool | type | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> AsyncGenerator[str | CreateResult, None]:
        started = time.perf_counter()
        ttft: float | None = None
        try:
            async for item in self._inner.create_stream(
                messages,
                tools=tools,
                tool_choice=tool_choice,
                json_output=json_output,
                extra_create_args=extra_create_args,
                cancellation_token=cancellation_token,
            ):
                if ttft is None:
                    ttft = time.perf_counter() - started
                if isinstance(item, CreateResult):
                    self._report(started, item, None, ttft)
                yield item
        except Exception as exc:
            self._report(started, None, exc, ttft)
            raise

    async def close(self) -> None:
        await self._inner.close()

    def actual_usage(self) -> RequestUsage:
        return self._inner.actual_usage()

    def total_usage(self) -> RequestUsage:
        return self._inner.total_usage()

    def count_tokens(
        self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []
    ) -> int:
        return self._inner.count_tokens(messages, tools=tools)

    def remaining_tokens(
        self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []
    ) -> int:
        return self._inner.remaining_tokens(messages, tools=tools)

    @property
    def capabilities(self) -> ModelInfo:  # type: ignore[override]
        return self._inner.model_info

    @property
    def model_info(self) -> ModelInfo:
        return self._inner.model_info
