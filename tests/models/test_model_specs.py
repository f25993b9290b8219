"""Model specs, the provider registry and the scripted model."""

from __future__ import annotations

import asyncio

import pytest
from autogen_core.models import AssistantMessage, SystemMessage, UserMessage

from botarmy_nb.errors import ConfigError, ModelSpecError
from botarmy_nb.models.registry import AgentContext, create_client
from botarmy_nb.models.scripted import ScriptedChatCompletionClient
from botarmy_nb.models.spec import ModelSpec, parse_model_chain, parse_model_spec


def test_parse_specs() -> None:
    assert parse_model_spec("scripted") == ModelSpec(provider="scripted", model="scripted")
    spec = parse_model_spec("openai-compatible:llama3@http://127.0.0.1:11434/v1")
    assert (spec.provider, spec.model, spec.base_url) == (
        "openai-compatible",
        "llama3",
        "http://127.0.0.1:11434/v1",
    )
    chain = parse_model_chain("openai:gpt-4o|scripted")
    assert [s.provider for s in chain] == ["openai", "scripted"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("nope:model", "unknown provider 'nope'; known: .*scripted"),
        ("openai:", "does not parse"),
        ("openai:gpt|", "empty spec"),
        ("Open AI", "does not parse"),
        ("openai", "needs a model name"),
    ],
)
def test_bad_specs(text: str, message: str) -> None:
    with pytest.raises(ModelSpecError, match=message):
        parse_model_chain(text)


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="set OPENAI_API_KEY"):
        create_client(parse_model_spec("openai:gpt-4o-mini"), AgentContext(agent="a"))


def test_masked_key_from_a_dumped_config_is_not_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "**********")
    with pytest.raises(ConfigError, match="set OPENAI_API_KEY"):
        create_client(parse_model_spec("openai:gpt-4o-mini"), AgentContext(agent="a"))


def _ask(client: ScriptedChatCompletionClient, messages: list) -> object:  # type: ignore[type-arg]
    return asyncio.run(client.create(messages))


def test_scripted_reviewer_revises_then_approves_and_reports_usage() -> None:
    ctx = AgentContext(agent="critic", role="reviewer", stop_word="APPROVE", ends_conversation=True)
    client = ScriptedChatCompletionClient(ctx)
    history = [
        SystemMessage(content="Review."),
        UserMessage(content="Write X", source="user"),
        UserMessage(content="draft", source="writer"),
    ]
    first = _ask(client, history)
    assert "REVISE" in first.content and "APPROVE" not in first.content
    assert first.usage.prompt_tokens == 4 and first.usage.completion_tokens > 10
    history += [
        AssistantMessage(content=first.content, source="critic"),
        UserMessage(content="draft 2", source="writer"),
    ]
    second = _ask(client, history)
    assert "APPROVE" in second.content and "scripted model" in second.content
    again = _ask(ScriptedChatCompletionClient(ctx), history)
    assert again.content == second.content  # deterministic


def test_scripted_fills_sections_from_instructions() -> None:
    client = ScriptedChatCompletionClient(AgentContext(agent="architect", role="architect"))
    result = _ask(
        client,
        [
            SystemMessage(content="Write:\n## Components\n## Risks"),
            UserMessage(content="Plan a wiki", source="user"),
        ],
    )
    assert "### Components" in result.content and "### Risks" in result.content


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0000000000000000")
    monkeypatch.setitem(sys.modules, "autogen_ext.models.openai", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'botarmy-nb\[openai\]'"):
        create_client(parse_model_spec("openai:gpt-4o-mini"), AgentContext(agent="a"))
