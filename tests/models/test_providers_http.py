"""Every provider path through real HTTP against the fake servers, every injected fault."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fake_llm import FakeLLMServer

import botarmy_nb as ba
from botarmy_nb import settings
from botarmy_nb.errors import ConfigError, ModelSpecError

pytestmark = pytest.mark.usefixtures("keys")


def _statuses(run: ba.Run) -> list[str]:
    return list(run.model_calls["status"].astype(str))


def test_openai_compatible_streams_with_usage(
    fake: FakeLLMServer, team: str, botarmy_home: Path
) -> None:
    seen: list = []
    run = ba.run("Write about wikis", team=team, model=f"openai-compatible:llama3@{fake.url}")
    run.subscribe(seen.append)
    run.wait(30)
    assert run.status == "completed", run.record.error
    calls = run.model_calls
    assert list(calls["status"]) == ["ok", "ok"] and set(calls["provider"]) == {"openai-compatible"}
    assert (calls["completion_tokens"] == 12).all()  # the server's own usage, streamed
    assert (calls["prompt_tokens"] > 0).all() and calls["ttft_s"].notna().all()
    assert calls["cost_usd"].isna().all()  # no price for llama3: NaN, never a guess
    assert all(r["body"].get("stream") for r in fake.requests)
    assert any(e.type == "chunk" for e in seen)  # tokens reached the live view
    said = run.messages.query("agent == 'writer'")["content"].iloc[0]
    assert said == "Fake writer reply 1: concise, specific and ready for the next step."


def test_openai_cost_from_the_price_table(fake: FakeLLMServer, team: str) -> None:
    run = ba.run("Write", team=team, model=f"openai:gpt-4o-mini@{fake.url}").wait(30)
    calls = run.model_calls
    expected = (calls["prompt_tokens"] * 0.15 + calls["completion_tokens"] * 0.60) / 1e6
    assert (calls["cost_usd"] - expected).abs().max() < 1e-12
    assert run.usage["cost_usd"] == pytest.approx(expected.sum())
    assert all(r["has_auth"] for r in fake.requests)


def test_user_price_table_extends_the_bundled_one(
    fake: FakeLLMServer, team: str, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    prices = tmp_path / "prices.yaml"
    prices.write_text("openai-compatible:llama3: {input: 1.0, output: 2.0}\n")
    monkeypatch.setenv("BOTARMY_PRICES", str(prices))
    settings.reset_settings()
    run = ba.run("Write", team=team, model=f"openai-compatible:llama3@{fake.url}").wait(30)
    calls = run.model_calls
    assert list(calls["cost_usd"]) == pytest.approx(
        list((calls["prompt_tokens"] * 1.0 + calls["completion_tokens"] * 2.0) / 1e6)
    )


def _model(provider: str, fake: FakeLLMServer) -> str:
    if provider == "anthropic":
        return f"anthropic:claude-x@{fake.url.removesuffix('/v1')}"
    return f"openai-compatible:m@{fake.url}"


@pytest.mark.parametrize("provider", ["openai-compatible", "anthropic"])
@pytest.mark.parametrize(
    "fault, reason",
    [
        ("429", "HTTP 429"),
        ("500", "HTTP 500"),
        ("503", "HTTP 503"),
        ("timeout", "timed out after 1.5 s"),
        ("malformed", ""),
        ("reset", "Connection"),
    ],
)
def test_transient_faults_are_retried_and_recorded(
    fake: FakeLLMServer, team: str, fault: str, reason: str, provider: str
) -> None:
    fake.fail(fault)
    run = ba.run("Write", team=team, model=_model(provider, fake)).wait(30)
    assert run.status == "completed", run.record.error
    calls = run.model_calls
    assert _statuses(run) == ["retry", "ok", "ok"]
    assert reason in calls.loc[0, "error"]
    # refused with an HTTP status: nothing generated; otherwise the provider may have
    # counted tokens we never saw: unknown, not 0
    tokens = calls.loc[0, "completion_tokens"]
    assert tokens == 0 if fault.isdigit() else tokens is pd.NA


def test_a_refused_connection_generated_nothing(team: str) -> None:
    run = ba.run("Write", team=team, model="openai-compatible:m@http://127.0.0.1:1/v1").wait(30)
    assert run.status == "failed"
    assert (run.model_calls["completion_tokens"] == 0).all()


def test_retry_after_is_respected(fake: FakeLLMServer, team: str) -> None:
    fake.fail("429")
    ba.run("Write", team=team, model=f"openai-compatible:m@{fake.url}").wait(30)
    first, second = fake.requests[0]["at"], fake.requests[1]["at"]
    assert second - first >= 0.2  # the fake says Retry-After: 0.2; our base delay is 0.01


def test_fallback_chain_moves_on_after_a_hard_error(fake: FakeLLMServer, team: str) -> None:
    fake.fail("400")  # not retryable: the next model of the chain takes over at once
    run = ba.run("Write", team=team, model=f"openai-compatible:m@{fake.url}|scripted").wait(30)
    assert run.status == "completed"
    calls = run.model_calls
    assert _statuses(run)[:2] == ["fallback", "ok"]
    assert list(calls["provider"].astype(str))[:2] == ["openai-compatible", "scripted"]
    assert "HTTP 400" in calls.loc[0, "error"]


def test_fallback_after_retries_are_spent(fake: FakeLLMServer, team: str) -> None:
    fake.fail("500", "500", "500", "500")
    run = ba.run(
        "Write",
        team=team,
        model=f"openai-compatible:m@{fake.url}|anthropic:claude-x@{fake.url[:-3]}",
    )
    run.wait(30)
    assert run.status == "completed"
    assert _statuses(run)[:5] == ["retry", "retry", "retry", "fallback", "ok"]
    assert list(run.model_calls["provider"].astype(str))[4] == "anthropic"


def test_terminal_failure_fails_the_run_with_the_reason(fake: FakeLLMServer, team: str) -> None:
    fake.fail(*["500"] * 4)
    run = ba.run("Write", team=team, model=f"openai-compatible:m@{fake.url}").wait(30)
    assert run.status == "failed"
    assert "every model failed" in run.record.error and "HTTP 500" in run.record.error
    assert _statuses(run) == ["retry", "retry", "retry", "error"]
    assert "Traceback" not in run.record.error


def test_refused_connection_is_a_recorded_failure(team: str) -> None:
    run = ba.run("Write", team=team, model="openai-compatible:m@http://127.0.0.1:1/v1")
    run.wait(30)
    assert run.status == "failed" and "Connection" in run.record.error
    assert len(run.model_calls) == 4


def test_anthropic_messages_api(fake: FakeLLMServer, team: str) -> None:
    run = ba.run("Write", team=team, model=f"anthropic:claude-x@{fake.url[:-3]}").wait(30)
    assert run.status == "completed", run.record.error
    calls = run.model_calls
    assert set(calls["provider"].astype(str)) == {"anthropic"}
    assert (calls["completion_tokens"] == 12).all() and (calls["prompt_tokens"] > 0).all()
    assert all(r["path"] == "/v1/messages" for r in fake.requests)


def test_per_agent_models(fake: FakeLLMServer, team: str) -> None:
    run = ba.run(
        "Write",
        team=team,
        model="scripted",
        agent_models={"critic": f"openai-compatible:m@{fake.url}"},
    ).wait(30)
    by_agent = run.model_calls.groupby("agent", observed=True)["provider"].first()
    assert str(by_agent["writer"]) == "scripted"
    assert str(by_agent["critic"]) == "openai-compatible"


@pytest.mark.parametrize(
    "model, error, message",
    [
        ("openai:gpt-4o", ConfigError, "set OPENAI_API_KEY"),
        ("anthropic:claude-x", ConfigError, "set ANTHROPIC_API_KEY"),
        ("openai-compatible:llama3", ModelSpecError, "needs @base_url"),
        ("mistral:large", ModelSpecError, "known: anthropic, gemini, openai"),
    ],
)
def test_bad_models_fail_before_the_run(monkeypatch, model, error, message) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(error, match=message):
        ba.run("Write", model=model)
    assert ba.runs().empty


def test_keys_from_an_env_file(tmp_path: Path, monkeypatch, fake: FakeLLMServer, team: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("OPENAI_API_KEY")
    env_file = tmp_path / ".env"
    env_file.write_text("OPENAI_API_KEY=sk-from-dotenv-0000000000\n")
    monkeypatch.setenv("BOTARMY_ENV_FILE", str(env_file))
    settings.reset_settings()
    run = ba.run("Write", team=team, model=f"openai:gpt-4o-mini@{fake.url}").wait(30)
    assert run.status == "completed"


def test_live_view_shows_streamed_tokens_then_the_message(fake: FakeLLMServer, team: str) -> None:
    from botarmy_nb.notebook.live import LiveView

    fake.latency_s = 0.3  # the run is still going when the view subscribes
    run = ba.run("Write", team=team, model=f"openai-compatible:m@{fake.url}")
    view = LiveView(run)
    chunks: list[str] = []
    run.subscribe(lambda e: chunks.append(e.content) if e.type == "chunk" else None)
    view.start()
    run.wait(30)
    assert view._ended.wait(30)
    assert len(chunks) > 10  # streamed word by word
    cards = "".join(view.transcript.cards)
    assert "typing…" not in cards  # the final messages replaced the chunks
    assert cards.count("Fake writer reply 1") == 1


def test_third_party_providers_register_through_entry_points(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from botarmy_nb.models import registry

    (tmp_path / "acme_models.py").write_text(
        "from botarmy_nb.models.registry import Provider\n"
        "from botarmy_nb.models.scripted import ScriptedChatCompletionClient\n"
        "PROVIDER = Provider('acme', lambda spec, ctx: ScriptedChatCompletionClient(ctx),\n"
        "                    default_model='rocket')\n"
    )
    dist = tmp_path / "acme_models-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-models\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[botarmy_nb.providers]\nacme = acme_models:PROVIDER\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry._load_entry_points.cache_clear()
    try:
        assert "acme" in registry.known_providers()
        run = ba.run("Write", model="acme").wait(30)
        assert run.status == "completed"
        assert set(run.model_calls["model"].astype(str)) == {"rocket"}
    finally:
        registry._REGISTRY.pop("acme", None)
        registry._load_entry_points.cache_clear()


def test_gemini_through_its_openai_compatible_endpoint(
    fake: FakeLLMServer, team: str, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GEMINI_API_KEY", "gm-test-0000000000")
    run = ba.run("Write", team=team, model=f"gemini:gemini-2.0-flash@{fake.url}").wait(30)
    assert run.status == "completed", run.record.error
    calls = run.model_calls
    assert set(calls["provider"].astype(str)) == {"gemini"}
    expected = (calls["prompt_tokens"] * 0.10 + calls["completion_tokens"] * 0.40) / 1e6
    assert list(calls["cost_usd"]) == pytest.approx(list(expected))
