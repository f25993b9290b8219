"""Logs (structlog, JSON on demand, context bound, secrets redacted) and escaped rendering."""

from __future__ import annotations

import json

import pytest

import botarmy_nb as ba
from botarmy_nb import settings
from botarmy_nb.events import ErrorEvent, MessageEvent
from botarmy_nb.log import configure_logging, get_logger, redact
from botarmy_nb.render import event_html, event_line


@pytest.fixture
def json_logs(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BOTARMY_LOG_JSON", "1")
    monkeypatch.setenv("BOTARMY_LOG_LEVEL", "DEBUG")
    settings.reset_settings()
    configure_logging(force=True)
    yield
    monkeypatch.delenv("BOTARMY_LOG_JSON")
    monkeypatch.delenv("BOTARMY_LOG_LEVEL")
    settings.reset_settings()
    configure_logging(force=True)


def test_json_logs_carry_run_and_agent(json_logs, capsys, botarmy_home) -> None:  # type: ignore[no-untyped-def]
    run = ba.run("Write a note").wait(30)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    calls = [line for line in lines if line["event"] == "model call"]
    assert len(calls) == 4 and {c["agent"] for c in calls} == {"writer", "critic"}
    assert all(c["run_id"] == run.id and c["level"] == "debug" for c in calls)
    assert any(line["event"] == "run finished" and line["status"] == "completed" for line in lines)


def test_secrets_are_redacted_from_logs(json_logs, capsys) -> None:  # type: ignore[no-untyped-def]
    get_logger("test").warning(
        "calling", url="postgresql://me:hunter2@db/x", note="key sk-canary1234567890abcdef"
    )
    err = capsys.readouterr().err
    assert "hunter2" not in err and "sk-canary" not in err and "***" in err
    assert redact("sk-abcdefghijklmnop") == "***"


def test_agent_output_is_escaped_in_html() -> None:
    event = MessageEvent(
        run_id="r",
        seq=1,
        agent="<img src=x onerror=alert(1)>",
        content="<script>alert('x')</script> & more",
    )
    html = event_html(event, {})
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp; more" in html
    assert "<img" not in html
    error = event_html(ErrorEvent(run_id="r", seq=2, error_type="E", message="<b>bad</b>"), {})
    assert error is not None and "<b>bad" not in error
    assert event_line(event).endswith("<script>alert('x')</script> & more")  # plain text


def test_live_view_streams_escaped_messages(botarmy_home, slow_model) -> None:  # type: ignore[no-untyped-def]
    from botarmy_nb.notebook.live import LiveView

    run = ba.run("Summarise <b>this</b> & that", model=slow_model)
    view = LiveView(run).start()
    run.wait(30)
    # a view updates on its subscription's thread: wait until that delivered the end
    assert view._ended.wait(30)
    body = "".join(view.transcript.cards)
    assert "&lt;b&gt;this&lt;/b&gt; &amp; that" in body and "<b>this</b>" not in body
    assert body.index("writer") < body.index("critic")
    assert "completed" in view.final_html and "tokens" in view.final_html
    assert view.mimebundle()["text/plain"] == view.text_line


def test_live_view_of_a_finished_run_shows_its_summary(botarmy_home) -> None:  # type: ignore[no-untyped-def]
    from botarmy_nb.notebook.live import LiveView

    run = ba.run("Quick").wait(30)
    view = LiveView(run).start()
    assert view._ended.wait(30)
    assert "completed" in view.final_html and "writer" in "".join(view.transcript.cards)
