"""Record and replay: identical reruns offline, loud misses, no secrets in cassettes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_llm import FakeLLMServer

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
