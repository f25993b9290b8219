"""One agent's model: retries with backoff, per-call timeouts, fallback chains, metering.

Every attempt becomes a ``model_call`` event (tokens from the provider's own usage —
``None`` when it gave none —, latency, time to first token when streaming, cost from the
price table, and a status: ``ok``, ``retry`` (failed, will be retried), ``fallback``
(failed, the next model of the chain takes over), ``error`` (the last model failed too)
or ``cancelled``). A reply without an answer is a failed attempt, not an empty success.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping, Sequence
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
from botarmy_nb.models.registry import BadReply, effective_spec, known_providers
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
    timeout_s: float = 120.0  # one whole call, streamed or not
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


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what caused it (SDKs wrap transport errors and our reply check)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        yield current
        seen.add(id(current))
        current = current.__cause__ or current.__context__


def _bad_reply(exc: BaseException) -> BadReply | None:
    return next((e for e in _causes(exc) if isinstance(e, BadReply)), None)


def _nothing_generated(exc: BaseException) -> bool:
    """True when the provider surely produced no tokens: it refused the request with an
    HTTP error, or the connection was never made."""
    if isinstance(getattr(exc, "status_code", None), int):
        return True
    return any(
        isinstance(e, ConnectionRefusedError) or type(e).__name__ == "ConnectError"
        for e in _causes(exc)
    )


def classify(exc: BaseException, timeout_s: float) -> tuple[bool, float | None, str]:
    """(retryable, retry-after seconds, a one-line reason without secrets) for an error."""
    if isinstance(exc, TimeoutError):
        return True, None, f"timed out after {timeout_s:g} s"
    bad = _bad_reply(exc)
    if bad is not None:  # perhaps a proxy's page or a hiccup: worth another try
        return True, None, "malformed reply: " + redact(str(bad))
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


def _check_result(result: CreateResult) -> CreateResult:
    """A result must hold an answer: text or tool calls (see :class:`BadReply`)."""
    content = result.content
    empty = not content.strip() if isinstance(content, str) else not content
    if empty:
        raise BadReply(f"no answer in the reply (finish reason: {result.finish_reason})")
    return result


def _known_usage(result: CreateResult) -> RequestUsage | None:
    """The provider's usage, or None when it sent none (the SDKs then say 0 and 0)."""
    usage = result.usage
    if usage.prompt_tokens or usage.completion_tokens or result.cached:
        return usage
    return None


@contextlib.contextmanager
def _abortable(token: CancellationToken | None) -> Iterator[None]:
    """While inside, a hard stop (``token.cancel()``) cancels the waiting task.

    Any provider becomes abortable, linked to the token or not, without a task per call.
    """
    if token is None:
        yield
        return
    # The token has no way to remove a callback: the one added here lets go of the task
    # and the loop when the call ends, so a run's finished calls are not kept alive.
    waiting = [(asyncio.current_task(), asyncio.get_running_loop())]

    def stop() -> None:
        for task, _loop in list(waiting):  # a copy: the call may end meanwhile
            if task is not None:
                task.cancel()

    def stop_threadsafe() -> None:  # cancel() may come from another thread
        for _task, loop in list(waiting):
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(stop)

    token.add_callback(stop_threadsafe)
    try:
        yield
    finally:
        waiting.clear()


async def _close(stream: Any) -> None:
    """Close a provider's stream (its HTTP response) whatever state it is in."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()


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
        self._labels = [effective_spec(spec) for spec, _ in self._chain]
        self._run_id, self._agent, self._emit = run_id, agent, emit
        self._policy, self._prices, self._recorder = policy, prices, recorder
        # bound once: the module's lazy proxy builds a new logger on every call it serves
        self._log = log.bind(agent=agent)

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
        index: int,
        started: float,
        status: str,
        *,
        result: CreateResult | None = None,
        failure: BaseException | None = None,
        error: str | None = None,
        ttft: float | None = None,
    ) -> None:
        spec, label = self._chain[index][0], self._labels[index]
        usage: RequestUsage | None
        if result is not None:
            usage = _known_usage(result)
        elif failure is not None and _nothing_generated(failure):
            usage = RequestUsage(0, 0)
        else:
            usage = None  # timed out, garbled or stopped: tokens may have been counted
        prompt = completion = cost = None
        if usage is not None:
            prompt, completion = usage.prompt_tokens, usage.completion_tokens
            cost = self._prices.cost(spec, prompt, completion)
        model = f"{label.model}@{label.base_url}" if label.base_url else label.model
        self._log.debug(
            "model call",
            model=str(label),
            status=status,
            prompt_tokens=prompt,
            completion_tokens=completion,
            error=error,
        )
        self._emit(
            ModelCallEvent(
                run_id=self._run_id,
                agent=self._agent,
                provider=spec.provider,
                model=model,
                prompt_tokens=prompt,
                completion_tokens=completion,
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
                try:
                    with _abortable(cancellation_token):
                        async with asyncio.timeout(self._policy.timeout_s):
                            result = _check_result(
                                await client.create(
                                    messages,
                                    tools=tools,
                                    tool_choice=tool_choice,
                                    json_output=json_output,
                                    extra_create_args=extra_create_args,
                                    cancellation_token=cancellation_token,
                                )
                            )
                except asyncio.CancelledError:
                    self._report(index, started, "cancelled", error="cancelled")
                    raise
                except BotArmyError:
                    raise  # our own errors (e.g. a cassette miss) are not provider trouble
                except Exception as exc:
                    status, delay, reason = self._outcome(index, attempt, exc)
                    self._report(index, started, status, failure=exc, error=reason)
                    if status == "retry":
                        await asyncio.sleep(delay or 0.0)
                        continue
                    reasons.append(f"{spec}: {reason}")
                    break
                self._report(index, started, "ok", result=result)
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
                # the timeout bounds the whole call: chunks that keep coming do not extend it
                deadline = asyncio.get_running_loop().time() + self._policy.timeout_s
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
                result: CreateResult | None = None
                try:
                    while result is None:
                        try:
                            with _abortable(cancellation_token):
                                async with asyncio.timeout_at(deadline):
                                    item = await anext(stream)
                        except StopAsyncIteration:
                            raise BadReply("the stream ended without a result") from None
                        if ttft is None:
                            ttft = time.perf_counter() - started
                        if isinstance(item, CreateResult):
                            result = _check_result(item)
                        else:
                            yielded = True
                            yield item
                except asyncio.CancelledError:
                    await _close(stream)
                    self._report(index, started, "cancelled", error="cancelled", ttft=ttft)
                    raise
                except BotArmyError:
                    await _close(stream)
                    raise
                except Exception as exc:
                    await _close(stream)
                    status, delay, reason = self._outcome(index, attempt, exc)
                    if yielded:  # text is already on screen: do not splice another answer in
                        status, delay = "error", None
                    self._report(index, started, status, failure=exc, error=reason, ttft=ttft)
                    if status == "retry":
                        await asyncio.sleep(delay or 0.0)
                        continue
                    reasons.append(f"{spec}: {reason}")
                    if yielded:
                        raise self._give_up(reasons) from None
                    break
                await _close(stream)
                self._report(index, started, "ok", result=result, ttft=ttft)
                self._record(messages, tools, result, started)
                yield result
                return
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
