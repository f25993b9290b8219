"""The Python API: non-blocking runs, wait, cancel, DataFrames across runs, bad input."""

from __future__ import annotations

import asyncio
import time

import pytest

import botarmy_nb as ba
from botarmy_nb.errors import ConfigError, ModelSpecError, NotFoundError, RunTimeoutError


def test_run_returns_at_once_and_progresses_in_the_background(use_database, slow_model) -> None:  # type: ignore[no-untyped-def]
    run = ba.run("Write a note", model=slow_model)  # 4 calls x 0.2 s
    assert run.status in ("queued", "running")  # returned before the run could have ended
    assert "in progress" in run.summary_text()
    with pytest.raises(RunTimeoutError):
        run.wait(timeout=0.1)
    assert run.wait(timeout=30).status == "completed"
    assert ba.last_run().id == run.id
    assert "completed" in run.summary_text() and "tokens" in run.summary_text()


def test_frames_across_runs(use_database) -> None:  # type: ignore[no-untyped-def]
    first = ba.run("One", name="zeta").wait(30)
    second = ba.run("Two", team="planning-room", name="alpha").wait(30)
    runs = ba.runs()
    assert list(runs["name"]) == ["zeta", "alpha"]
    assert str(runs["created_at"].dt.tz) == "UTC" and runs["status"].dtype == "category"
    messages = ba.messages()
    assert list(messages["run_id"].unique()) == [first.id, second.id]
    # runs keep their creation order in groupby too (not alphabetical, not by id)
    per_run = messages.groupby("run_name", observed=True).size()
    assert list(per_run.index) == ["zeta", "alpha"] and list(per_run) == [5, 4]
    assert (
        messages.groupby("run_id", observed=True)["seq"].apply(lambda s: s.is_monotonic_increasing)
    ).all()
    assert list(ba.messages(second.id[:8], agent="pm")["agent"].unique()) == ["pm"]
    assert len(ba.model_calls(first.id)) == len(first.model_calls) == 4
    assert set(ba.artifacts()["name"]) == {"draft.md", "review.md", "brief.md", "plan.md"}
    usage = first.usage
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert first.artifact("draft.md").content.startswith("## Take 2: One")  # no label line
    with pytest.raises(ConfigError, match="cannot filter on 'nope'"):
        ba.messages(nope=1)


def test_graceful_cancel(use_database, slow_model) -> None:  # type: ignore[no-untyped-def]
    run = ba.run("Long one", model=slow_model, team="writers-room")
    time.sleep(0.3)
    assert run.cancel(grace_s=5) == "cancelled"
    said = [e for e in run.events if e.type == "message" and e.agent != "user"]
    assert len(said) < 4
    assert run.events[-1].status == "cancelled"


def test_hard_cancel_aborts_a_stuck_model_call(use_database, slow_model, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tests_support import stuck_provider

    from botarmy_nb.models import registry

    registry.register_provider(registry.Provider("stuck", stuck_provider, default_model="scripted"))
    run = ba.run("Never answers", model="stuck")
    time.sleep(0.3)
    started = time.monotonic()
    assert run.cancel(grace_s=0.5) == "cancelled"
    assert time.monotonic() - started < 5
    assert run.record.stop_reason == "cancelled by the user"


def test_arun_awaits_without_blocking_the_loop(use_database, slow_model) -> None:  # type: ignore[no-untyped-def]
    async def main() -> tuple[str, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1

        task = asyncio.create_task(ticker())
        run = await ba.arun("Async", model=slow_model)
        task.cancel()
        return run.status, ticks

    status, ticks = asyncio.run(main())
    assert status == "completed" and ticks >= 5


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"team": "nope"}, NotFoundError, "unknown team 'nope'"),
        ({"model": "what:ever"}, ModelSpecError, "--model 'what:ever': unknown provider"),
        ({"agent_models": {"ghost": "scripted"}}, ConfigError, "unknown agent 'ghost'"),
        ({"executor": "spark"}, ConfigError, "executor 'spark' is unknown"),
        ({"max_turns": 0}, ConfigError, "max_turns must be at least 1"),
    ],
)
def test_bad_input_starts_nothing(use_database, kwargs, error, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=message):
        ba.run("task", **kwargs)
    assert ba.runs().empty


def test_missing_variable_is_listed_before_the_run(use_database) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="variables with no value: audience, product"):
        ba.run("PRD for {{product}} aimed at {{ audience }}", variables={"x": "1"})
    run = ba.run("PRD for {{product}}", variables={"product": "Wiki"}).wait(30)
    assert run.record.task == "PRD for Wiki"
    assert ba.runs().shape[0] == 1


def test_frames_of_an_empty_store_have_their_columns(use_database) -> None:  # type: ignore[no-untyped-def]
    assert list(ba.messages().columns) == [
        "run_id",
        "run_name",
        "seq",
        "created_at",
        "agent",
        "type",
        "content",
        "model",
        "step",
    ]
    assert ba.model_calls().empty and "total_tokens" in ba.model_calls().columns
    assert ba.artifacts().empty and ba.runs().empty


def test_a_store_failure_mid_run_is_reported_not_hung(botarmy_home) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    from botarmy_nb.errors import StoreError
    from botarmy_nb.store.sql import open_store

    open_store()  # create the schema, then break it under the running product
    with sqlite3.connect(botarmy_home / "botarmy.db") as conn:
        conn.execute("ALTER TABLE events DROP COLUMN kind")
    run = ba.run("Write a note")
    with pytest.raises(StoreError, match="no column named kind"):
        run.wait(timeout=30)
