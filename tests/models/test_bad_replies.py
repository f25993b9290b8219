"""200 replies that are not answers, unknown usage, whole-call timeouts, recorded base URLs.

All through real HTTP against the fake servers (tests/fake_llm.py).
"""

from __future__ import annotations

import asyncio
import time

import pytest
from autogen_core import CancellationToken
from autogen_core.models import UserMessage
from fake_llm import FakeLLMServer

import botarmy_nb as ba
from botarmy_nb import settings
from botarmy_nb.engine.build import make_client
from botarmy_nb.events import ModelCallEvent
from botarmy_nb.models.registry import AgentContext
from botarmy_nb.models.resilient import RetryPolicy
from botarmy_nb.models.spec import parse_model_chain

pytestmark = pytest.mark.usefixtures("keys")

# fault → what the recorded reason says (streamed requests: the agents stream)
STREAMED = {
    "html": "HTTP 200 with text/html, not a model reply: '<!DOCTYPE html>",
    "json-error": "HTTP 200 carrying an error: model overloaded",
    "empty": "no answer in the reply",
    "only-done": "no answer in the reply",
    "truncated": "no answer in the reply",
    "no-choices": "no answer in the reply",
}
# the same faults on a plain (not streamed) request
PLAIN = {
    "html": "HTTP 200 with text/html",
    "json-error": "HTTP 200 carrying an error: model overloaded",
    "empty": "HTTP 200 with an empty body",
    "only-done": "HTTP 200 with cut-off or invalid JSON",
    "truncated": "HTTP 200 with cut-off or invalid JSON",
}


def _model(provider: str, fake: FakeLLMServer) -> str:
    if provider == "anthropic":
        return f"anthropic:claude-x@{fake.url.removesuffix('/v1')}"
    return f"openai-compatible:m@{fake.url}"


def _statuses(run: ba.Run) -> list[str]:
    return list(run.model_calls["status"].astype(str))


@pytest.mark.parametrize("provider", ["openai-compatible", "anthropic"])
@pytest.mark.parametrize("fault", sorted(STREAMED))
def test_a_200_without_an_answer_is_a_failed_attempt(
    fake: FakeLLMServer, team: str, fault: str, provider: str
) -> None:
    fake.fail(fault)
    run = ba.run("Write", team=team, model=_model(provider, fake)).wait(30)
    assert run.status == "completed", run.record.error
    assert _statuses(run) == ["retry", "ok", "ok"]
    calls = run.model_calls
    assert "malformed reply: " in calls.loc[0, "error"]
    assert STREAMED[fault] in calls.loc[0, "error"]
    said = run.messages.query("agent == 'writer'")["content"].iloc[0]
    assert said.startswith("Fake writer reply")  # the retry's answer, not an empty one


@pytest.mark.parametrize("fault", [*sorted(PLAIN), "no-choices"])
def test_plain_requests_check_the_reply_too(fake: FakeLLMServer, fault: str) -> None:
    events: list[ModelCallEvent] = []
    client = make_client(
        AgentContext(agent="writer"),
        parse_model_chain(f"openai-compatible:m@{fake.url}|scripted"),
        run_id="r",
        emit=events.append,
        policy=RetryPolicy(retries=0, timeout_s=5),
    )
    fake.fail(fault)
    result = asyncio.run(client.create([UserMessage(content="Write", source="user")]))
    assert [e.status for e in events] == ["fallback", "ok"]
    assert events[1].provider == "scripted" and str(result.content).startswith("## Draft")
    reason = PLAIN.get(fault, "HTTP 200 with no choices")
    assert events[0].error is not None and reason in events[0].error


def test_bad_replies_fall_back_down_the_chain(fake: FakeLLMServer, team: str) -> None:
    fake.fail(*["html"] * 4)  # the first try and three retries
    run = ba.run("Write", team=team, model=f"openai-compatible:m@{fake.url}|scripted").wait(30)
    assert run.status == "completed", run.record.error
    assert _statuses(run)[:5] == ["retry", "retry", "retry", "fallback", "ok"]
    assert list(run.model_calls["provider"].astype(str))[4] == "scripted"


def test_when_every_model_gives_bad_replies_the_run_fails_saying_why(
    fake: FakeLLMServer, team: str
) -> None:
    fake.fail(*["json-error"] * 4)
    run = ba.run("Write", team=team, model=f"openai-compatible:m@{fake.url}").wait(30)
    assert run.status == "failed"
    assert "every model failed" in run.record.error
    assert "HTTP 200 carrying an error: model overloaded" in run.record.error
    assert _statuses(run) == ["retry", "retry", "retry", "error"]
    assert run.messages.query("agent == 'writer'").empty and run.artifacts.empty


def test_unknown_usage_stays_unknown(fake: FakeLLMServer, team: str) -> None:
    fake.usage = False  # an OpenAI-compatible server that never reports usage
    run = ba.run("Write", team=team, model=f"openai:gpt-4o-mini@{fake.url}").wait(30)
    assert run.status == "completed", run.record.error
    calls = run.model_calls
    for column in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert str(calls[column].dtype) == "Int64" and calls[column].isna().all()
    assert calls["cost_usd"].isna().all()  # a priced model, but no tokens to price: NaN


def test_known_and_unknown_usage_side_by_side(fake: FakeLLMServer, team: str) -> None:
    fake.fail("no-usage")  # the first call only
    run = ba.run("Write", team=team, model=f"openai:gpt-4o-mini@{fake.url}").wait(30)
    calls = run.model_calls
    assert calls["prompt_tokens"].isna().tolist() == [True, False]
    assert calls["cost_usd"].isna().tolist() == [True, False]
    assert calls.loc[1, "completion_tokens"] == 12


def test_the_timeout_bounds_the_whole_streamed_call(
    fake: FakeLLMServer, team: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOTARMY_MODEL_TIMEOUT_S", "1")
    monkeypatch.setenv("BOTARMY_MODEL_RETRIES", "0")
    settings.reset_settings()
    fake.chunk_gap_s = 0.3  # 13 chunks, each well within 1 s, the whole reply ~4 s
    fake.fail("slow")
    started = time.monotonic()
    run = ba.run("Write", team=team, model=f"openai-compatible:m@{fake.url}|scripted").wait(30)
    assert time.monotonic() - started < 3.5
    calls = run.model_calls
    assert calls.loc[0, "status"] == "error"  # words were on screen: no spliced answer
    assert calls.loc[0, "error"] == "timed out after 1 s"
    assert run.status == "failed" and "timed out after 1 s" in run.record.error


def test_a_hard_stop_aborts_a_call_in_flight(fake: FakeLLMServer) -> None:
    fake.latency_s = 3.0
    events: list[ModelCallEvent] = []
    client = make_client(
        AgentContext(agent="writer"),
        parse_model_chain(f"openai-compatible:m@{fake.url}"),
        run_id="r",
        emit=events.append,
        policy=RetryPolicy(retries=0, timeout_s=10),
    )

    async def call() -> None:
        token = CancellationToken()
        asyncio.get_running_loop().call_later(0.2, token.cancel)
        await client.create([UserMessage(content="Write", source="user")], cancellation_token=token)

    started = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(call())
    assert time.monotonic() - started < 2
    assert [e.status for e in events] == ["cancelled"]
    assert events[0].prompt_tokens is None  # it may have been counted: unknown


@pytest.mark.parametrize(
    "variable, model, path",
    [
        ("OPENAI_BASE_URL", "openai:gpt-4o-mini", "/v1"),
        ("ANTHROPIC_BASE_URL", "anthropic:claude-sonnet-4-0", ""),
    ],
)
def test_a_base_url_from_the_environment_is_recorded_without_credentials(
    fake: FakeLLMServer, team: str, monkeypatch: pytest.MonkeyPatch, variable, model, path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(variable, f"http://someone:pw-0000@127.0.0.1:{fake.port}{path}?k=1")
    run = ba.run("Write", team=team, model=model).wait(30)
    assert run.status == "completed", run.record.error
    assert fake.requests  # the SDK did go where the variable says
    url = f"http://127.0.0.1:{fake.port}{path}"
    labels = {e.model for e in run.events if e.type == "message" and e.agent != "user"}
    assert labels == {f"{model}@{url}"}
    assert set(run.model_calls["model"].astype(str)) == {f"{model.split(':')[1]}@{url}"}
    assert "pw-0000" not in repr(run.events)
