"""Model specs, the provider registry and the scripted model."""

from __future__ import annotations

import asyncio
import string

import pytest
from autogen_core.models import AssistantMessage, SystemMessage, UserMessage
from hypothesis import given, settings
from hypothesis import strategies as st

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


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://me:hunter2@h/v1", "carries credentials"),
        ("//me:hunter2@h/v1", "carries credentials"),
        ("me:hunter2@h/v1", "carries credentials"),
        ("http://h/v1?api_key=hunter2", "credential in its query string"),
        ("http://h/v1?X-Amz-Signature=hunter2", "credential in its query string"),
        ("h:11434/v1?hunter2", "needs http:// or https://"),
        ("ftp://h/v1?hunter2", "needs http:// or https://"),
        ("http://h:99999/v1?hunter2", "does not parse"),
    ],
)
def test_urls_with_credentials_are_refused_without_echoing_them(url: str, message: str) -> None:
    with pytest.raises(ModelSpecError, match=message) as caught:
        parse_model_chain(f"scripted|openai-compatible:m@{url}")
    assert "hunter2" not in str(caught.value)


def test_a_url_holding_a_configured_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", "local-key-0042")
    with pytest.raises(ModelSpecError, match="value of a configured API key") as caught:
        parse_model_spec("openai-compatible:m@http://h/local-key-0042/v1")
    assert "local-key-0042" not in str(caught.value)


def test_plain_query_parameters_are_allowed() -> None:
    spec = parse_model_spec("openai-compatible:m@https://h/v1?api-version=2024-06-01")
    assert spec.base_url == "https://h/v1?api-version=2024-06-01"


# -- properties: any input parses or ends in a ModelSpecError that leaks nothing ---------

# what a password inside a valid URL is made of (reserved characters are %-encoded)
_PASSWORD = st.text(string.ascii_letters + string.digits + "-._~!$&'()*+,;=%", min_size=4).map(
    lambda s: f"Pw{s}Qz"
)
_PROVIDER = st.sampled_from(["openai", "openai-compatible", "anthropic", "scripted", "nope", ""])
_MODEL = st.text(string.ascii_letters + string.digits + ":.-_/ ", max_size=12)


@st.composite
def _url_with_password(draw: st.DrawFn) -> tuple[str, str]:
    password = draw(_PASSWORD)
    scheme = draw(st.sampled_from(["http://", "https://", "//", "", "ftp://", "HTTP://"]))
    host = draw(st.sampled_from(["127.0.0.1", "localhost:11434", "[::1]:8080", "h"]))
    path = draw(st.sampled_from(["", "/v1", "/v1/"]))
    where = draw(st.sampled_from(["userinfo", "user-only", "query", "query-later", "fragment"]))
    if where == "userinfo":
        url = f"{scheme}me:{password}@{host}{path}"
    elif where == "user-only":
        url = f"{scheme}{password}@{host}{path}"
    elif where == "query":
        name = draw(st.sampled_from(["api_key", "key", "token", "access_token", "password"]))
        url = f"{scheme}{host}{path}?{name}={password}"
    elif where == "query-later":
        url = f"{scheme}{host}{path}?api-version=1&apiKey={password}"
    else:  # a fragment is never sent, but it is stored and shown: refused as well
        url = f"{scheme}{host}{path}?sig={password}#x"
    return url, password


@st.composite
def _spec_with_password(draw: st.DrawFn) -> tuple[str, str]:
    url, password = draw(_url_with_password())
    spec = f"{draw(_PROVIDER)}:{draw(_MODEL)}@{url}"
    others = draw(st.lists(st.sampled_from(["scripted", "openai:gpt-4o", "x y", ""]), max_size=2))
    parts = [spec, *others]
    return "|".join(draw(st.permutations(parts))), password


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_parses_or_says_what_is_wrong(text: str) -> None:
    try:
        chain = parse_model_chain(text)
    except ModelSpecError as exc:
        assert str(exc).startswith("model ") and "Traceback" not in str(exc)
        return
    for spec in chain:  # what parses is stable: its text parses to itself
        assert parse_model_spec(str(spec)) == spec


@settings(max_examples=300, deadline=None)
@given(_spec_with_password())
def test_a_password_in_a_spec_is_refused_and_never_echoed(case: tuple[str, str]) -> None:
    text, password = case
    with pytest.raises(ModelSpecError) as caught:
        parse_model_chain(text)
    assert password not in str(caught.value)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["openai-compatible", "openai", "anthropic"]),
    st.text(string.ascii_letters + string.digits + ".-_", min_size=1, max_size=12),
    st.sampled_from(["http://127.0.0.1:8000", "https://api.example.test", "http://[::1]:1"]),
    st.sampled_from(["", "/v1", "/v1/", "/openai/v1?api-version=2024-06-01"]),
)
def test_good_specs_keep_every_part(provider: str, model: str, host: str, path: str) -> None:
    (spec,) = parse_model_chain(f"{provider}:{model}@{host}{path}")
    assert (spec.provider, spec.model, spec.base_url) == (provider, model, host + path)


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
    assert "APPROVE" in second.content  # the scripted label lives in the model column
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
