"""A canary API key is provably absent from the database, logs, cassettes, notebook outputs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import nbformat
import pytest
from fake_llm import FakeLLMServer
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from botarmy_nb import settings

CANARY = "sk-canary-do-not-leak-0123456789abcdef"


@pytest.mark.kernel
def test_canary_key_never_leaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, botarmy_home: Path
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    monkeypatch.setenv("BOTARMY_LOG_JSON", "1")
    monkeypatch.setenv("BOTARMY_LOG_LEVEL", "DEBUG")
    settings.reset_settings()
    cassette = tmp_path / "calls.json"
    with FakeLLMServer() as fake:
        model = f"openai:gpt-4o-mini@{fake.url}"
        fake.fail("401")  # an auth error on the way, as with a wrong key
        nb = new_notebook(
            cells=[
                new_code_cell("%load_ext botarmy_nb"),
                new_code_cell(
                    f"%%botarmy --model {model}|scripted --record {cassette} --wait\nWrite a note"
                ),
                new_code_cell("_botarmy_run.model_calls[['agent', 'provider', 'status', 'error']]"),
                new_code_cell("%botarmy status"),
                new_code_cell(  # a failed --wait run raises (one line), so Run All stops
                    "%%botarmy --model openai:gpt-4o-mini@http://127.0.0.1:1/v1 --wait\nFails",
                    metadata={"tags": ["raises-exception"]},
                ),
                new_code_cell("import os; print(sorted(k for k in os.environ if 'KEY' in k))"),
            ],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        )
        NotebookClient(
            nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
        assert all(r["has_auth"] for r in fake.requests)  # the key did reach the provider
    outputs = nbformat.writes(nb)
    assert "botarmy run writers-room · completed" in outputs
    assert "model call" in outputs and "level" in outputs  # the JSON logs landed there too
    assert "HTTP 401" in outputs and "OPENAI_API_KEY" in outputs
    assert CANARY not in outputs and CANARY[:12] not in outputs
    assert CANARY not in cassette.read_text()
    with sqlite3.connect(botarmy_home / "botarmy.db") as conn:
        dump = "\n".join(conn.iterdump())
    assert "gpt-4o-mini" in dump and CANARY not in dump


# -- secrets redacted by value, wherever text leaves the process -------------------------

PLAIN_KEY = "plain-local-key-7f3a9c1e5b"  # no sk- prefix: no pattern would catch it


@pytest.mark.usefixtures("botarmy_home")
def test_a_key_echoed_in_a_401_is_nowhere_in_the_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import botarmy_nb as ba
    from botarmy_nb.log import configure_logging

    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", PLAIN_KEY)
    monkeypatch.setenv("BOTARMY_LOG_JSON", "1")
    monkeypatch.setenv("BOTARMY_LOG_LEVEL", "DEBUG")
    settings.reset_settings()
    configure_logging(force=True)
    team = tmp_path / "solo.yaml"
    team.write_text(
        "name: solo\ntype: round_robin\n"
        "agents: [{name: writer, role: writer, system_message: Write.}]\n"
        "termination: {max_messages: 2}\n"
    )
    try:
        with FakeLLMServer() as fake:
            fake.fail("401-echo")  # "Incorrect API key provided: <the key>", as OpenAI does
            run = ba.run("Write", team=str(team), model=f"openai-compatible:m@{fake.url}")
            run.wait(30)
            assert fake.requests and fake.requests[0]["has_auth"]
        logs = capsys.readouterr().err
    finally:
        monkeypatch.delenv("BOTARMY_LOG_JSON")
        monkeypatch.delenv("BOTARMY_LOG_LEVEL")
        settings.reset_settings()
        configure_logging(force=True)
    assert run.status == "failed"
    assert "HTTP 401" in run.record.error and "Incorrect API key provided: ***" in run.record.error
    calls = run.model_calls
    assert list(calls["status"].astype(str)) == ["error"] and "***" in calls.loc[0, "error"]
    shown = [run.summary_text(), run._repr_html_(), repr(run.events), logs]
    assert "model call" in logs and "HTTP 401" in run.summary_text()
    for text in shown:
        assert PLAIN_KEY not in text
    db = settings.get_settings().home / "botarmy.db"
    with sqlite3.connect(db) as conn:
        dump = "\n".join(conn.iterdump())
    assert "Incorrect API key provided" in dump and PLAIN_KEY not in dump


def test_redact_hides_every_configured_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from botarmy_nb.log import redact
    from botarmy_nb.models import registry

    env_file = tmp_path / ".env"
    env_file.write_text(
        "ANTHROPIC_API_KEY=from-dotenv-key-1\nHF_TOKEN=hf-token-value-2\nLEVEL=INFO\n"
    )
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("BOTARMY_ENV_FILE", str(env_file))
    monkeypatch.setenv("GEMINI_API_KEY", "AIzaGeminiKey3")
    monkeypatch.setenv("ACME_KEY", "acme-key-value-4")
    monkeypatch.setenv("BOTARMY_DATABASE_URL", "postgresql://bot:db-pass-5@db/x")
    monkeypatch.setenv("BOTARMY_REDIS_URL", "redis://:redis-pass-6@cache:6379/0")
    settings.reset_settings()
    registry.register_provider(
        registry.Provider("acme", lambda spec, ctx: None, key_variable="ACME_KEY")  # type: ignore[arg-type,return-value]
    )
    try:
        text = (
            "from-dotenv-key-1 hf-token-value-2 AIzaGeminiKey3 acme-key-value-4 db-pass-5 "
            "redis-pass-6 http://h/v1?api_key=q-7 //u:p-8@h LEVEL=INFO"
        )
        out = redact(text)
    finally:
        registry._REGISTRY.pop("acme", None)
        settings.reset_settings()
    for secret in ("key-1", "value-2", "Key3", "value-4", "pass-5", "pass-6", "q-7", "p-8"):
        assert secret not in out, out
    assert "LEVEL=INFO" in out  # not a secret: left alone


def test_a_key_set_while_running_is_redacted_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from botarmy_nb.log import redact

    assert redact("key late-key-000") == "key late-key-000"
    monkeypatch.setenv("OPENAI_API_KEY", "late-key-000")  # as a notebook cell would
    assert redact("key late-key-000") == "key ***"
