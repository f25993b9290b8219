"""One agent's model: retries with backoff, per-call timeouts, fallback chains, metering.

Every attempt becomes a ``model_call`` event (tokens from the provider's own usage,
latency, time to first token when streaming, cost from the price table, and a status:
``ok``, ``retry`` (failed, will be retried), ``fallback`` (failed, the next model of the
chain takes over), ``error`` (the last model failed too) or ``cancelled``).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass
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

from botarmy_nb.errors import BotArmyError, ProviderError
from botarmy_nb.events import ModelCallEvent
from botarmy_nb.log import get_logger, redact
from botarmy_nb.models.cassette import CassetteRecorder, fingerprint
from botarmy_nb.models.prices import PriceTable
from botarmy_nb.models.registry import known_providers
from botarmy_nb.models.spec import ModelSpec

__all__ = ["ResilientClient", "RetryPolicy", "classify"]

log = get_logger("models")
Emit = Callable[[ModelCallEvent], None]
_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}
_TRANSIENT_NAMES = ("Timeout", "Connection", "RemoteProtocol", "ReadError", "WriteError")


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 3  # per model of the chain, after the first attempt
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    timeout_s: float = 120.0  # one call (streaming: the wait for each chunk)
    jitter: float = 0.25

    @classmethod
    def from_settings(cls) -> RetryPolicy:
        from botarmy_nb.settings import get_settings

        s = get_settings()
        return cls(
            retries=s.model_retries,
            base_delay_s=s.retry_base_s,
            max_delay_s=s.retry_max_s,
            timeout_s=s.model_timeout_s,
        )

    def delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        backoff *= 1 + random.uniform(-self.jitter, self.jitter)
        if retry_after is not None:  # the provider said how long: wait at least that
            backoff = max(backoff, min(retry_after, self.max_delay_s))
        return max(0.0, backoff)


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    value = headers.get("retry-after") if hasattr(headers, "get") else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def classify(exc: BaseException, timeout_s: float) -> tuple[bool, float | None, str]:
    """(retryable, retry-after seconds, a one-line reason without secrets) for an error."""
    if isinstance(exc, TimeoutError):
        return True, None, f"timed out after {timeout_s:g} s"
    status = getattr(exc, "status_code", None)
    message = redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    if isinstance(status, int):
        return status in _RETRY_STATUS, _retry_after(exc), f"HTTP {status}: {message}"
    name = type(exc).__name__
    if any(part in name for part in _TRANSIENT_NAMES):
        return True, None, f"{name}: {message}"
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
        return True, None, f"malformed response: {message}"
    return False, None, f"{name}: {message}"


class ResilientClient(ChatCompletionClient):
    """The chain of models serving one agent, seen by AutoGen as a single client."""

    component_type = "model"

    def __init__(
        self,
        chain: Sequence[tuple[ModelSpec, ChatCompletionClient]],
        *,
        run_id: str,
        agent: str,
        emit: Emit,
        policy: RetryPolicy,
        prices: PriceTable,
        recorder: CassetteRecorder | None = None,
    ) -> None:
        if not chain:
            raise ValueError("a model chain needs at least one model")
        self._chain = list(chain)
        self._run_id, self._agent, self._emit = run_id, agent, emit
        self._policy, self._prices, self._recorder = policy, prices, recorder

    def _record(
        self,
        messages: Sequence[LLMMessage],
        tools: Sequence[Tool | ToolSchema],
        result: CreateResult,
        started: float,
    ) -> None:
        if self._recorder is not None:
            requested = str(self._chain[0][0])
            self._recorder.add(
                agent=self._agent,
                model=requested,
                result=result,
                key=fingerprint(requested, self._agent, messages, tools),
                latency_s=time.perf_counter() - started,
            )

    def _report(
        self,
        spec: ModelSpec,
        started: float,
        status: str,
        *,
        result: CreateResult | None = None,
        error: str | None = None,
        ttft: float | None = None,
    ) -> None:
        usage = result.usage if result is not None else RequestUsage(0, 0)
        cost = self._prices.cost(spec, usage.prompt_tokens, usage.completion_tokens)
        log.debug(
            "model call",
            agent=self._agent,
            model=str(spec),
            status=status,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            error=error,
        )
        self._emit(
            ModelCallEvent(
                run_id=self._run_id,
                agent=self._agent,
                provider=spec.provider,
                model=spec.model,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                latency_s=time.perf_counter() - started,
                ttft_s=ttft,
                cost_usd=cost,
                status=status,
                error=error,
                cached=bool(result.cached) if result is not None else False,
            )
        )

    def _outcome(
        self, index: int, attempt: int, exc: BaseException
    ) -> tuple[str, float | None, str]:
        """The status of a failed attempt, the delay before the next try, and the reason."""
        retryable, retry_after, reason = classify(exc, self._policy.timeout_s)
        if retryable and attempt <= self._policy.retries:
            return "retry", self._policy.delay(attempt, retry_after), reason
        return ("fallback" if index < len(self._chain) - 1 else "error"), None, reason

    def _give_up(self, reasons: list[str]) -> ProviderError:
        return ProviderError(f"agent '{self._agent}': every model failed: " + "; ".join(reasons))

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
        reasons: list[str] = []
        for index, (spec, client) in enumerate(self._chain):
            attempt = 0
            while True:
                attempt += 1
                started = time.perf_counter()
                call = asyncio.ensure_future(
                    asyncio.wait_for(
                        client.create(
                            messages,
                            tools=tools,
                            tool_choice=tool_choice,
                            json_output=json_output,
                            extra_create_args=extra_create_args,
                            cancellation_token=cancellation_token,
                        ),
                        self._policy.timeout_s,
                    )
                )
                if cancellation_token is not None:
                    # any provider becomes abortable by a hard stop, linked or not
                    cancellation_token.link_future(call)
                try:
                    result = await call
                except asyncio.CancelledError:
                    self._report(spec, started, "cancelled", error="cancelled")
                    raise
                except BotArmyError:
                    raise  # our own errors (e.g. a cassette miss) are not provider trouble
                except Exception as exc:
                    status, delay, reason = self._outcome(index, attempt, exc)
                    self._report(spec, started, status, error=reason)
                    if status == "retry":
                        await asyncio.sleep(delay or 0.0)
                        continue
                    reasons.append(f"{spec}: {reason}")
                    break
                self._report(spec, started, "ok", result=result)
                self._record(messages, tools, result, started)
                return result
        raise self._give_up(reasons)

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
        reasons: list[str] = []
        for index, (spec, client) in enumerate(self._chain):
            attempt = 0
            while True:
                attempt += 1
                started, ttft, yielded = time.perf_counter(), None, False
                provider = known_providers().get(spec.provider)
                stream_args = (provider.stream_args if provider else None) or {}
                stream = client.create_stream(
                    messages,
                    tools=tools,
                    tool_choice=tool_choice,
                    json_output=json_output,
                    extra_create_args={**stream_args, **extra_create_args},
                    cancellation_token=cancellation_token,
                )
                try:
                    while True:
                        try:
                            item = await asyncio.wait_for(anext(stream), self._policy.timeout_s)
                        except StopAsyncIteration:
                            break
                        if ttft is None:
                            ttft = time.perf_counter() - started
                        if isinstance(item, CreateResult):
                            self._report(spec, started, "ok", result=item, ttft=ttft)
                            self._record(messages, tools, item, started)
                            yield item
                            return
                        yielded = True
                        yield item
                except asyncio.CancelledError:
                    self._report(spec, started, "cancelled", error="cancelled", ttft=ttft)
                    raise
                except BotArmyError:
                    raise
                except Exception as exc:
                    status, delay, reason = self._outcome(index, attempt, exc)
                    if yielded:  # text is already on screen: do not splice another answer in
                        status, delay = "error", None
                    self._report(spec, started, status, error=reason, ttft=ttft)
                    if status == "retry":
                        await asyncio.sleep(delay or 0.0)
                        continue
                    reasons.append(f"{spec}: {reason}")
                    if yielded:
                        raise self._give_up(reasons) from None
                    break
                raise self._give_up([f"{spec}: the stream ended without a result"])
        raise self._give_up(reasons)

    async def close(self) -> None:
        for _, client in self._chain:
            await client.close()

    def actual_usage(self) -> RequestUsage:
        return self._chain[0][1].actual_usage()

    def total_usage(self) -> RequestUsage:
        return self._chain[0][1].total_usage()

    def count_tokens(
        self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []
    ) -> int:
        return self._chain[0][1].count_tokens(messages, tools=tools)

    def remaining_tokens(
        self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []
    ) -> int:
        return self._chain[0][1].remaining_tokens(messages, tools=tools)

    @property
    def capabilities(self) -> ModelInfo:  # type: ignore[override]
        return self._chain[0][1].model_info

    @property
    def model_info(self) -> ModelInfo:
        return self._chain[0][1].model_info
