"""Regressions found in review: store failures mid-run, late events, secrets in URLs,
artifact paths, condition types, help output, escaped diagrams."""

from __future__ import annotations

import pytest

import botarmy_nb as ba
from botarmy_nb.errors import ModelSpecError, SpecError, StoreError
from botarmy_nb.events import MessageEvent, StatusEvent
from botarmy_nb.executors.bus import LocalEventBus


def test_a_store_that_fails_from_the_second_write_ends_the_run(
    monkeypatch, botarmy_home, slow_model
) -> None:  # type: ignore[no-untyped-def]
    from botarmy_nb.store.sql import SqlRunStore, open_store

    open_store()
    calls = {"n": 0}
    real = SqlRunStore.append_events

    def flaky(self, events, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] >= 2:
            raise StoreError("run store: disk full")
        return real(self, events, **kwargs)

    monkeypatch.setattr(SqlRunStore, "append_events", flaky)
    seen: list = []
    run = ba.run("Write a note", team="review-graph", model=slow_model)  # batches flush
    run.subscribe(seen.append)
    with pytest.raises(StoreError, match="disk full"):
        run.wait(timeout=30)
    with pytest.raises(StoreError, match="disk full"):  # and again: the outcome is kept
        run.wait(timeout=5)
    assert seen and seen[-1].type == "status" and seen[-1].status == "failed"
    assert not run._executor.bus.is_active(run.id)  # late events did not reopen it
    assert calls["n"] >= 3  # a batch mid-run, then the failing ones, then the final one


def test_a_transient_write_failure_loses_no_events(monkeypatch, botarmy_home) -> None:  # type: ignore[no-untyped-def]
    from botarmy_nb.engine.recorder import RunRecorder
    from botarmy_nb.store.records import NewRun
    from botarmy_nb.store.sql import SqlRunStore, open_store

    store = open_store()
    run_id = "c" * 32
    store.create_run(NewRun(id=run_id, name="r", task="t", model="scripted"))
    recorder = RunRecorder(store, run_id, lambda e: None, flush_interval_s=3600)
    real = SqlRunStore.append_events
    failures = iter([True, False])
    monkeypatch.setattr(
        SqlRunStore,
        "append_events",
        lambda self, ev, **kw: (
            (_ for _ in ()).throw(StoreError("database is locked"))
            if next(failures, False)
            else real(self, ev, **kw)
        ),
    )
    for i in range(3):
        recorder.emit(MessageEvent(run_id=run_id, agent="a", content=f"m{i}"))
    with pytest.raises(StoreError):
        recorder.flush()
    recorder.emit(MessageEvent(run_id=run_id, agent="a", content="m3"))
    recorder.flush()
    assert [e.seq for e in store.events(run_id)] == [1, 2, 3, 4]


def test_bus_ignores_events_of_runs_it_does_not_hold() -> None:
    bus = LocalEventBus()
    bus.publish(MessageEvent(run_id="x", seq=1, content="late"))
    assert not bus.is_active("x") and bus.subscribe("x", print) is None
    bus.open("y")
    bus.publish(StatusEvent(run_id="y", seq=1, status="completed"))
    assert bus.subscribe("y", print) is None  # ended: read the store instead


def test_credentials_in_base_urls_are_refused(botarmy_home) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelSpecError, match="carries credentials"):
        ba.run("x", model="openai-compatible:llama3@https://me:s3cret@gw.example/v1")
    assert ba.runs().empty


@pytest.mark.parametrize("name", ["../evil.md", "/etc/passwd", "sub/dir.md", ".."])
def test_artifact_names_are_plain_file_names(tmp_path, name: str) -> None:  # type: ignore[no-untyped-def]
    from botarmy_nb.specs.team import load_team

    path = tmp_path / "t.yaml"
    path.write_text(f"name: t\nagents: [writer]\nartifacts:\n  - name: '{name}'\n")
    with pytest.raises(SpecError, match="plain file name") as info:
        load_team(path)
    assert info.value.line == 4


def test_conditions_compare_var_text_as_numbers() -> None:
    from botarmy_nb.bmad.conditions import parse_condition

    assert parse_condition("epic_count >= 3").evaluate({"epic_count": "5"}) is True
    assert parse_condition("epic_count == 5").evaluate({"epic_count": "5"}) is True
    assert parse_condition("unknown in project_type").evaluate({"project_type": "web"}) is False


def test_runs_help_prints_help(capsys) -> None:  # type: ignore[no-untyped-def]
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.testing.globalipapp import start_ipython

    start_ipython()
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "botarmy_nb")
    assert shell.run_line_magic("botarmy", "runs --help") is None
    assert "%botarmy runs [--status S] [--limit N]" in capsys.readouterr().out


def test_mermaid_text_cannot_break_out_of_its_fence() -> None:
    from botarmy_nb.render import mermaid_markdown

    text = mermaid_markdown("```mermaid\ngraph TD\n```\n<img src=x onerror=alert(1)>\n```")
    fence = text.split("mermaid", 1)[0]
    assert len(fence) == 4 and text.endswith("\n" + fence)
    assert text.count("````") == 2  # the inner ``` cannot close a four-backtick fence


def test_upstream_style_owners_resolve_to_agents(tmp_path) -> None:  # type: ignore[no-untyped-def]
    core = ba.load_bmad()
    assert core.agent_for_owner("scrum-master") == "sm"
    assert core.agent_for_owner("dev-agent") == "dev"
    assert core.agent_for_owner("nobody") is None
