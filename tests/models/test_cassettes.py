"""Record and replay: identical reruns offline, loud misses, no secrets in cassettes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fake_llm import FakeLLMServer
from hypothesis import given
from hypothesis import strategies as st

import botarmy_nb as ba
from botarmy_nb import settings
from botarmy_nb.errors import ConfigError


def _same_run(a: ba.Run, b: ba.Run) -> None:
    assert list(a.messages["content"]) == list(b.messages["content"])
    assert list(a.messages["agent"]) == list(b.messages["agent"])
    ta, tb = a.model_calls, b.model_calls
    assert list(ta["prompt_tokens"]) == list(tb["prompt_tokens"])
    assert list(ta["completion_tokens"]) == list(tb["completion_tokens"])
    assert [x.content for x in a._store.artifacts(a.id)] == [
        x.content for x in b._store.artifacts(b.id)
    ]


@pytest.mark.parametrize("team", ["writers-room", "planning-room", "support-swarm"])
def test_replay_reproduces_a_scripted_run(tmp_path: Path, team: str) -> None:
    cassette = tmp_path / "run.json"
    recorded = ba.run("Plan a wiki", team=team, record=cassette).wait(30)
    data = json.loads(cassette.read_text())
    assert data["version"] == 1 and len(data["calls"]) == len(recorded.model_calls)
    first = data["calls"][0]
    assert {"agent", "turn", "model", "fingerprint", "response", "latency_s"} <= set(first)
    replayed = ba.run("Plan a wiki", team=team, replay=cassette).wait(30)
    assert replayed.status == "completed", replayed.record.error
    _same_run(recorded, replayed)
    assert set(replayed.model_calls["provider"].astype(str)) == {"replay"}
    assert replayed.model_calls["cached"].all()


def test_record_from_real_http_then_replay_offline(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    canary = "sk-canary-cassette-1234567890"
    monkeypatch.setenv("OPENAI_API_KEY", canary)
    settings.reset_settings()
    cassette = tmp_path / "http.json"
    with FakeLLMServer() as fake:
        recorded = ba.run(
            "Write", model=f"openai:gpt-4o-mini@{fake.url}", record=cassette, max_turns=2
        ).wait(30)
        assert recorded.status == "completed", recorded.record.error
    # the server is gone and the key with it: replay needs neither
    monkeypatch.delenv("OPENAI_API_KEY")
    replayed = ba.run("Write", replay=cassette, max_turns=2).wait(30)
    assert replayed.status == "completed", replayed.record.error
    _same_run(recorded, replayed)
    text = cassette.read_text()
    assert canary not in text and "authorization" not in text.lower()


def test_a_request_with_no_recorded_answer_fails_loudly(tmp_path: Path) -> None:
    cassette = tmp_path / "run.json"
    ba.run("Plan a wiki", record=cassette).wait(30)
    run = ba.run("Plan something else", replay=cassette).wait(30)
    assert run.status == "failed"
    assert "no recorded answer for agent 'writer' at turn 1" in run.record.error
    assert "Traceback" not in run.record.error


def test_cassette_problems_are_caught_before_the_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        ba.run("x", replay=tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 1,\n "calls": [oops]}')
    with pytest.raises(ConfigError, match="line 2: not JSON"):
        ba.run("x", replay=bad)
    with pytest.raises(ConfigError, match="exclude each other"):
        ba.run("x", replay=bad, record=tmp_path / "new.json")
    assert ba.runs().empty


def test_failed_runs_write_no_cassette(tmp_path: Path) -> None:
    cassette = tmp_path / "run.json"
    ba.run("x", model="openai-compatible:m@http://127.0.0.1:1/v1", record=cassette).wait(30)
    assert not cassette.exists()


GOOD_CALL = {
    "agent": "writer",
    "turn": 1,
    "model": "scripted",
    "fingerprint": "abc",
    "response": {
        "content": "Hello",
        "thought": None,
        "finish_reason": "stop",
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    },
    "latency_s": 0.01,
}


def _cassette(tmp_path: Path, body: object) -> Path:
    path = tmp_path / "c.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    return path


@pytest.mark.parametrize(
    "calls, message",
    [
        (5, "'calls' must be a list"),
        ([5], "call 1, the call: Input should be a valid dictionary"),
        ([{**GOOD_CALL, "agent": ["writer"]}], "call 1, agent: Input should be a valid string"),
        ([{k: v for k, v in GOOD_CALL.items() if k != "response"}], "call 1, response: Field"),
        ([GOOD_CALL, {**GOOD_CALL, "response": "hi"}], "call 2, response: Input should be"),
        (
            [{**GOOD_CALL, "response": {"content": [{"id": 1}]}}],
            "call 1, response.content",
        ),
        (
            [{**GOOD_CALL, "response": {"content": "x", "usage": {"prompt_tokens": "3"}}}],
            "call 1, response.usage.prompt_tokens",
        ),
        (
            [{**GOOD_CALL, "response": {"content": "x", "finish_reason": "done"}}],
            "call 1, response.finish_reason",
        ),
    ],
)
def test_malformed_calls_are_config_errors_at_load(tmp_path: Path, calls, message) -> None:  # type: ignore[no-untyped-def]
    from botarmy_nb.models.cassette import load_cassette

    path = _cassette(tmp_path, {"version": 1, "calls": calls})
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        load_cassette(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b'{"version": 1, "calls": []}\xff', "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"version": 1, "calls": [' + b"9" * 5_000 + b"]}", "not JSON"),
    ],
)
def test_unreadable_cassettes_are_config_errors(tmp_path: Path, raw: bytes, message: str) -> None:
    from botarmy_nb.models.cassette import load_cassette

    path = tmp_path / "c.json"
    path.write_bytes(raw)
    with pytest.raises(ConfigError, match=message):
        load_cassette(path)


@pytest.mark.parametrize("ref", ["~nobody-at-all/c.json", "x" * 5_000, "a\x00.json"])
def test_cassette_paths_no_file_can_have(ref: str) -> None:
    from botarmy_nb.models.cassette import load_cassette

    with pytest.raises(ConfigError):
        load_cassette(ref)


_text = st.one_of(st.text(max_size=6), st.sampled_from(["writer", "stop", "scripted"]))
_any = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 10**20), st.floats(), _text),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_text, inner, max_size=3)),
    max_leaves=8,
)


def _maybe(right: st.SearchStrategy) -> st.SearchStrategy:  # type: ignore[type-arg]
    return st.one_of(right, right, _any)


_tool_call = st.fixed_dictionaries(
    {}, optional={"id": _maybe(_text), "name": _maybe(_text), "arguments": _maybe(_text)}
)
_response = st.fixed_dictionaries(
    {"content": _maybe(st.one_of(_text, st.lists(_maybe(_tool_call), max_size=2)))},
    optional={
        "thought": _maybe(st.one_of(st.none(), _text)),
        "finish_reason": _maybe(
            st.sampled_from(["stop", "length", "function_calls", "unknown", "done", None])
        ),
        "usage": _maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "prompt_tokens": _maybe(st.integers(-1, 100)),
                    "completion_tokens": _maybe(st.integers(-1, 100)),
                },
            )
        ),
    },
)
_call = st.fixed_dictionaries(
    {
        "agent": _maybe(st.sampled_from(["writer", "critic"])),
        "fingerprint": _maybe(st.just("MATCH")),
    },
    optional={
        "model": _maybe(st.sampled_from(["scripted", "gpt"])),
        "turn": _maybe(st.integers(0, 3)),
        "response": _maybe(_response),
        "latency_s": _maybe(st.floats(0, 1)),
    },
)
_cassettes = st.fixed_dictionaries(
    {
        "version": st.one_of(st.just(1), st.just(1), _any),
        "calls": _maybe(st.lists(_call, max_size=3)),
    }
)


@given(_cassettes, st.sampled_from(["as is", "cut", "bytes"]), st.data())
def test_fuzzed_cassettes_load_or_fail_by_name_and_replay_cleanly(
    body: dict,
    how: str,
    data,  # type: ignore[type-arg, no-untyped-def]
) -> None:
    import asyncio
    import tempfile

    from botarmy_nb.errors import BotArmyError
    from botarmy_nb.models.cassette import ReplayClient, fingerprint, load_cassette

    for call in body["calls"] if isinstance(body["calls"], list) else []:
        if not isinstance(call, dict):
            continue
        model, agent = call.get("model", "replay"), call.get("agent")
        if call.get("fingerprint") == "MATCH" and isinstance(model, str) and isinstance(agent, str):
            call["fingerprint"] = fingerprint(model, agent, [], [])
    raw = json.dumps(body).encode()
    if how == "cut":
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    elif how == "bytes":
        at = data.draw(st.integers(0, len(raw)))
        raw = raw[:at] + b"\xff" + raw[at:]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.json"
        path.write_bytes(raw)
        try:
            calls = load_cassette(path)
        except ConfigError as exc:
            assert str(path) in str(exc)
            return
        for agent in {agent for agent, _ in calls}:
            client = ReplayClient(path, agent)
            try:  # a recorded answer comes back whole; anything else is a loud miss
                result = asyncio.run(client.create([]))
            except BotArmyError as exc:
                assert "no recorded answer" in str(exc)
            else:
                assert result.cached and result.usage.prompt_tokens >= 0
