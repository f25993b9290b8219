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
from pydantic import BaseModel, ConfigDict, Field, ValidationError

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


class _Recorded(BaseModel):
    # extra keys are ignored: a newer recorder may add some, and they harm nothing
    model_config = ConfigDict(extra="ignore", strict=True)


class _RecordedUsage(_Recorded):
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)


class _RecordedToolCall(_Recorded):
    id: str
    name: str
    arguments: str


class _RecordedResponse(_Recorded):
    content: str | list[_RecordedToolCall]
    thought: str | None = None
    finish_reason: str | None = None
    usage: _RecordedUsage | None = None


class _RecordedCall(_Recorded):
    """One call as CassetteRecorder writes it; checked when the cassette is loaded."""

    agent: str
    fingerprint: str
    model: str = "replay"
    turn: int | None = None
    response: _RecordedResponse
    latency_s: float | None = None


def _load_result(data: Mapping[str, Any]) -> CreateResult:
    """The CreateResult of a recorded response (``data`` as written by ``_dump_result``)."""
    response = _RecordedResponse.model_validate(data)
    content: Any = response.content
    if isinstance(content, list):
        content = [FunctionCall(id=c.id, name=c.name, arguments=c.arguments) for c in content]
    usage = response.usage or _RecordedUsage()
    return CreateResult(
        finish_reason=response.finish_reason or "stop",  # type: ignore[arg-type]
        content=content,
        usage=RequestUsage(
            prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens
        ),
        cached=True,
        thought=response.thought,
    )


def _where(loc: tuple[int | str, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


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


def _read_json(path: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cassette {path}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cassette {path}: not UTF-8 text (offset {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"cassette {path}, line {exc.lineno}: not JSON ({exc.msg})") from None
    except RecursionError:
        raise ConfigError(f"cassette {path}: not a cassette (nested too deeply)") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise ConfigError(f"cassette {path}: not JSON ({exc})") from None


def _bad_call(
    path: str, number: int, exc: ValidationError, within: tuple[str, ...] = ()
) -> ConfigError:
    err = exc.errors()[0]
    where = _where((*within, *err["loc"])) or "the call"
    return ConfigError(
        f"cassette {path}: call {number}, {where}: {err['msg']}"
        " (edited by hand? record it again with --record)"
    )


@functools.cache
def _load(path: str, stamp: tuple[int, int]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    data = _read_json(path)
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ConfigError(f"cassette {path}: not a botarmy-nb cassette (version {VERSION})")
    calls = data.get("calls", [])
    if not isinstance(calls, list):
        raise ConfigError(f"cassette {path}: 'calls' must be a list of recorded calls")
    index: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for number, raw in enumerate(calls, 1):
        try:
            call = _RecordedCall.model_validate(raw)
        except ValidationError as exc:
            raise _bad_call(path, number, exc) from None
        try:
            _load_result(call.response.model_dump())  # finish_reason etc. as autogen wants
        except ValidationError as exc:
            raise _bad_call(path, number, exc, within=("response",)) from None
        index[(call.agent, call.fingerprint)].append(call.model_dump())
    return dict(index)


def load_cassette(path: str | Path) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The cassette's calls by (agent, fingerprint); a missing or bad file is a ConfigError.

    Every call is checked here, so a replay never meets a malformed one mid-run.
    """
    try:
        file = Path(path).expanduser()
        stat = file.stat() if file.is_file() else None
        resolved = str(file.resolve())
    except (OSError, ValueError, RuntimeError) as exc:  # too long, NUL, ~unknown-user
        raise ConfigError(f"cassette {path}: not a usable file name ({exc})") from None
    if stat is None:
        raise ConfigError(f"cassette {file} does not exist (record one with --record)")
    return _load(resolved, (stat.st_mtime_ns, stat.st_size))


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
