"""Record and replay model calls (cassettes), so shared notebooks re-run offline, identically.

A cassette is a JSON file: for every successful model call of a run, the agent, its turn,
the model, a fingerprint of the request (model, agent, messages, tools), the response
(text or tool calls, thought, finish reason), its usage and latency. No request headers,
no keys: nothing that could hold a secret is written.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from autogen_core import CancellationToken, FunctionCall
from autogen_core.models import (
    CreateResult,
    LLMMessage,
    RequestUsage,
)
from autogen_core.tools import Tool, ToolSchema

from botarmy_nb.errors import ConfigError, RunError
from botarmy_nb.log import redact
from botarmy_nb.models.offline import OfflineClient

__all__ = ["CassetteMissError", "CassetteRecorder", "ReplayClient", "fingerprint", "load_cassette"]

VERSION = 1


class CassetteMissError(RunError):
    """A replayed run asked something the cassette has no recorded answer for."""


def _message_text(message: LLMMessage) -> Any:
    content = getattr(message, "content", "")
    if isinstance(content, str):
        return content
    out = []
    for part in content:
        if isinstance(part, FunctionCall):
            out.append({"call": part.name, "arguments": part.arguments})
        elif hasattr(part, "content"):
            out.append({"result": part.content, "name": getattr(part, "name", None)})
        else:
            out.append(str(part))
    return out


def fingerprint(
    model: str, agent: str, messages: Sequence[LLMMessage], tools: Sequence[Tool | ToolSchema]
) -> str:
    """A stable hash of what was asked (ids of tool calls left out: they vary per run)."""
    body = {
        "model": model,
        "agent": agent,
        "messages": [
            [type(m).__name__, getattr(m, "source", None), _message_text(m)] for m in messages
        ],
        "tools": sorted(getattr(t, "name", None) or t.get("name", "") for t in tools),  # type: ignore[union-attr]
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:24]


def _dump_result(result: CreateResult) -> dict[str, Any]:
    content: Any = result.content
    if isinstance(content, list):
        content = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in content]
    return {
        "content": content,
        "thought": result.thought,
        "finish_reason": result.finish_reason,
        "usage": {
            "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
        },
    }


def _load_result(data: Mapping[str, Any]) -> CreateResult:
    content: Any = data["content"]
    if isinstance(content, list):
        content = [FunctionCall(**c) for c in content]
    usage = data.get("usage") or {}
    return CreateResult(
        finish_reason=data.get("finish_reason") or "stop",
        content=content,
        usage=RequestUsage(
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
        ),
        cached=True,
        thought=data.get("thought"),
    )


class CassetteRecorder:
    """Collects a run's successful calls and writes them atomically at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.calls: list[dict[str, Any]] = []
        self._turns: dict[str, int] = defaultdict(int)

    def add(
        self, *, agent: str, model: str, key: str, result: CreateResult, latency_s: float
    ) -> None:
        self._turns[agent] += 1
        self.calls.append(
            {
                "agent": agent,
                "turn": self._turns[agent],
                "model": model,
                "fingerprint": key,
                "response": _dump_result(result),
                "latency_s": round(latency_s, 6),
            }
        )

    def save(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"version": VERSION, "calls": self.calls}, indent=1)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".cassette-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(redact(text))
        os.replace(tmp, self.path)
        return self.path


@functools.cache
def _load(path: str, stamp: float) -> dict[tuple[str, str], list[dict[str, Any]]]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cassette {path}: cannot read it ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"cassette {path}, line {exc.lineno}: not JSON ({exc.msg})") from None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ConfigError(f"cassette {path}: not a botarmy-nb cassette (version {VERSION})")
    index: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for call in data.get("calls", []):
        index[(call["agent"], call["fingerprint"])].append(call)
    return dict(index)


def load_cassette(path: str | Path) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The cassette's calls by (agent, fingerprint); a missing or bad file is a ConfigError."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"cassette {file} does not exist (record one with --record)")
    return _load(str(file.resolve()), file.stat().st_mtime)


class ReplayClient(OfflineClient):
    """Serves one agent's recorded answers; a request with none fails loudly."""

    def __init__(self, path: str | Path, agent: str) -> None:
        super().__init__()
        self._path, self._agent = Path(path).expanduser(), agent
        self._calls = load_cassette(self._path)
        self._used: dict[str, int] = defaultdict(int)
        self._turn = 0
        self._model = next(
            (c[0]["model"] for (a, _), c in self._calls.items() if a == agent), "replay"
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
        self._turn += 1
        key = fingerprint(self._model, self._agent, messages, tools)
        recorded = self._calls.get((self._agent, key), [])
        index = self._used[key]
        if index >= len(recorded):
            raise CassetteMissError(
                f"cassette {self._path} has no recorded answer for agent '{self._agent}' "
                f"at turn {self._turn} (request {key}): the conversation went another way "
                "than when it was recorded; record it again with --record"
            )
        self._used[key] += 1
        result = _load_result(recorded[index]["response"])
        self._count(result.usage)
        return result
