"""Model clients for the benchmarks: AutoGen's replay client, optionally slowed, and the
``bench-replay`` / ``bench-slow`` / ``bench-cycle`` providers that hand the same clients to
botarmy-nb runs (in this process, or in worker processes through an entry point)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from autogen_core.models import CreateResult, RequestUsage
from autogen_ext.models.replay import ReplayChatCompletionClient

from benchmarks._core import REPLIES

__all__ = [
    "CycleClient",
    "SlowReplayClient",
    "cycle_provider",
    "plugin_path",
    "register",
    "replay_provider",
    "replies",
    "slow_provider",
]


def replies(count: int) -> list[str]:
    return [REPLIES[i % len(REPLIES)] for i in range(count)]


class SlowReplayClient(ReplayChatCompletionClient):
    """The replay client, answering after ``delay_s`` (a model's pace without its cost)."""

    def __init__(self, chat_completions: list[str], delay_s: float) -> None:
        super().__init__(chat_completions)
        self.delay_s = delay_s

    async def create(self, messages: Any, **kwargs: Any) -> CreateResult:  # type: ignore[override]
        await asyncio.sleep(self.delay_s)
        return await super().create(messages, **kwargs)


class CycleClient(ReplayChatCompletionClient):
    """Cycles through the replies without tokenizing the prompt: the replay client
    tokenizes every prompt, which is quadratic in a 10,000-message run."""

    def __init__(self) -> None:
        super().__init__(list(REPLIES))
        self._n = 0

    async def create(self, messages: Any, **kwargs: Any) -> CreateResult:  # type: ignore[override]
        text = REPLIES[self._n % len(REPLIES)]
        self._n += 1
        usage = RequestUsage(prompt_tokens=10, completion_tokens=10)
        return CreateResult(finish_reason="stop", content=text, usage=usage, cached=False)


def _replay_factory(spec: Any, context: Any) -> Any:
    return ReplayChatCompletionClient(replies(int(spec.model)))


def _slow_factory(spec: Any, context: Any) -> Any:
    count, _, delay = spec.model.partition("x")
    return SlowReplayClient(replies(int(count)), float(delay))


def _cycle_factory(spec: Any, context: Any) -> Any:
    return CycleClient()


def replay_provider() -> Any:
    """``bench-replay:N``: N replies per agent, no delay."""
    from botarmy_nb.models.registry import Provider

    return Provider("bench-replay", _replay_factory, default_model="10")


def slow_provider() -> Any:
    """``bench-slow:NxSECONDS``: N replies per agent, each after SECONDS."""
    from botarmy_nb.models.registry import Provider

    return Provider("bench-slow", _slow_factory, default_model="10x0.02")


def cycle_provider() -> Any:
    """``bench-cycle``: endless cheap replies."""
    from botarmy_nb.models.registry import Provider

    return Provider("bench-cycle", _cycle_factory, default_model="any")


def register() -> None:
    from botarmy_nb.models.registry import register_provider

    for make in (replay_provider, slow_provider, cycle_provider):
        register_provider(make())


def plugin_path(root: Path) -> Path:
    """A folder holding a distribution whose entry points register the bench providers,
    for worker processes (put it and the repository on their PYTHONPATH)."""
    info = root / "botarmy_bench_providers-0.0.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: botarmy-bench-providers\nVersion: 0.0.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[botarmy_nb.providers]\n"
        "bench-replay = benchmarks.providers:replay_provider\n"
        "bench-slow = benchmarks.providers:slow_provider\n"
        "bench-cycle = benchmarks.providers:cycle_provider\n"
    )
    return root
