"""The runs browser: filters by status, team and date; open a run; compare two."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pytest
from comm_recorder import choose, click, record_comms, type_into

from botarmy_nb.errors import ConfigError, NotFoundError
from botarmy_nb.notebook.browser import RunsBrowser, compare_messages, compare_totals, runs_table
from botarmy_nb.refs import RunFilter


@pytest.fixture
def comms(monkeypatch):  # type: ignore[no-untyped-def]
    return record_comms(monkeypatch)


@pytest.fixture
def three_runs(botarmy_home, slow_model):  # type: ignore[no-untyped-def]
    """An old writers-room run, a planning-room run and a failed one."""
    import botarmy_nb as ba
    from botarmy_nb.store.base import open_store

    old = ba.run("Old task", name="old").wait(60)
    plan = ba.run("Plan it", team="planning-room", name="plan").wait(60)
    failed = ba.run("Fail", model="broken:scripted", name="broken").wait(60)
    assert (old.status, plan.status, failed.status) == ("completed", "completed", "failed")
    open_store().update_run(old.id, created_at=datetime(2026, 1, 5, 12, 0))
    return old, plan, failed


def _names(browser: RunsBrowser) -> list[str]:
    return [label.split()[4] for label, _ in browser.runs.options]


def test_table_filters(three_runs) -> None:  # type: ignore[no-untyped-def]
    old = three_runs[0]
    assert list(runs_table()["name"]) == ["old", "plan", "broken"]
    assert list(runs_table(RunFilter.of(status="failed"))["name"]) == ["broken"]
    assert list(runs_table(RunFilter.of(team="planning-room"))["name"]) == ["plan"]
    assert list(runs_table(RunFilter.of(until="2026-02-01"))["name"]) == ["old"]
    assert list(runs_table(RunFilter.of(since="2026-02-01"))["name"]) == ["plan", "broken"]
    assert list(runs_table(RunFilter.of(since="1h"))["name"]) == ["plan", "broken"]
    assert list(runs_table(RunFilter.of(limit=1))["name"]) == ["broken"]
    assert runs_table().loc[0, "id"] == old.id[:8]
    with pytest.raises(ConfigError, match="unknown status 'done'; choose one of queued, running"):
        RunFilter.of(status="done")
    with pytest.raises(NotFoundError, match="did you mean 'planning-room'"):
        runs_table(RunFilter.of(team="planing-room"))
    with pytest.raises(ConfigError, match="since='last week' is not a date"):
        RunFilter.of(since="last week")


def test_widget_filters_by_status_team_and_date(three_runs, comms) -> None:  # type: ignore[no-untyped-def]
    browser = RunsBrowser()
    assert _names(browser) == ["broken", "plan", "old"]  # newest first
    choose(browser.status, "failed")
    assert _names(browser) == ["broken"]
    choose(browser.status, "")
    choose(browser.ran, "team:planning-room")
    assert _names(browser) == ["plan"]
    choose(browser.ran, "")
    type_into(browser.until, "2026-02-01")
    assert _names(browser) == ["old"]
    type_into(browser.until, "")
    type_into(browser.since, "someday")
    assert "is not a date" in html.unescape(browser.message.value)
    type_into(browser.since, "2026-02-01")
    assert _names(browser) == ["broken", "plan"]
    assert "2 runs" in browser.message.value


def test_browser_starts_from_the_given_filters(three_runs, comms) -> None:  # type: ignore[no-untyped-def]
    browser = RunsBrowser(RunFilter.of(team="writers-room", since=datetime(2026, 1, 1, tzinfo=UTC)))
    assert browser.ran.value == "team:writers-room"
    assert browser.since.value.startswith("2026-01-01T00:00")
    assert _names(browser) == ["broken", "old"]


def test_open_and_compare(three_runs, comms) -> None:  # type: ignore[no-untyped-def]
    old, plan, failed = three_runs
    browser = RunsBrowser()
    click(browser.compare_button)
    assert "select exactly two runs" in browser.message.value
    choose(browser.runs, plan.id, old.id)
    click(browser.compare_button)
    raw = browser.detail.children[1].value
    assert "<br>" in raw and "\\n" not in raw  # a message's line breaks show as breaks
    totals, messages = (html.unescape(w.value) for w in browser.detail.children)
    assert totals.index(f"old ({old.id[:8]})") < totals.index(f"plan ({plan.id[:8]})")
    assert "team writers-room" in totals and "team planning-room" in totals
    assert "Plan it" in messages and "Old task" in messages
    choose(browser.runs, failed.id)
    click(browser.open_button)
    assert browser.view is not None and browser.detail.children == (browser.view.widget,)


def test_compare_frames(three_runs) -> None:  # type: ignore[no-untyped-def]
    old, plan, _ = three_runs
    totals = compare_totals(old, plan)
    assert list(totals.columns) == [f"old ({old.id[:8]})", f"plan ({plan.id[:8]})"]
    assert totals.loc["status"].to_list() == ["completed", "completed"]
    assert totals.loc["messages"].to_list() == [len(old.messages), len(plan.messages)]
    side = compare_messages(old, plan)
    assert len(side) == max(len(old.messages), len(plan.messages))
    assert side.iloc[0][(f"old ({old.id[:8]})", "content")] == "Old task"
    assert side.iloc[0][(f"plan ({plan.id[:8]})", "content")] == "Plan it"
