"""Fixtures for the provider tests: the fake LLM server, a two-agent team, test keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_llm import FakeLLMServer

from botarmy_nb import settings

TEAM = """
name: duo
type: round_robin
agents:
  - {name: writer, role: writer, system_message: Write the draft.}
  - {name: critic, role: reviewer, system_message: Review the draft.}
termination: {text: null, max_messages: 3}
artifacts: [{name: draft.md, agent: writer}]
"""


@pytest.fixture
def fake() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(hang_s=4.0) as server:
        yield server


@pytest.fixture
def team(tmp_path: Path) -> str:
    path = tmp_path / "duo.yaml"
    path.write_text(TEAM)
    return str(path)


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test keys for the HTTP providers and a short per-call timeout."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-openai-000000000000")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0000000000000")
    monkeypatch.setenv("BOTARMY_MODEL_TIMEOUT_S", "1.5")  # room for a busy machine
    settings.reset_settings()
