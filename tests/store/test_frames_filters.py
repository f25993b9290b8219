"""Frames filtered in SQL: the statement carries each filter and only matching rows are
read; derived columns (model, step, attempt, fallback position) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

import botarmy_nb as ba
from botarmy_nb.errors import ConfigError
from botarmy_nb.events import (
    ArtifactEvent,
    HitlRequestEvent,
    HitlResponseEvent,
    MessageEvent,
    ModelCallEvent,
    StatusEvent,
    StepEvent,
)
from botarmy_nb.store import frames
from botarmy_nb.store.records import NewRun

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def statements() -> Iterator[list[tuple[str, list[Any]]]]:
    """Every statement the frame readers send (they bypass SQLAlchemy's engine events)."""
    seen: list[tuple[str, list[Any]]] = []
    frames.statement_hook = lambda sql, params: seen.append((sql, params))
    yield seen
    frames.statement_hook = None


def _sends(statement: tuple[str, list[Any]], value: str) -> bool:
    """Whether a statement carries ``value``: as a parameter (SQLite) or inlined as a
    quoted literal (PostgreSQL, see ``frames.compile_query``)."""
    sql, params = statement
    return value in params or "'" + value.replace("'", "''") + "'" in sql


def _plain(series: Any) -> list[Any]:
    return [
        None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else v
        for v in series.astype(object)
    ]


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _team_run(store, run_id: str, name: str, *, team: str, tags: dict[str, str], day: int) -> None:  # type: ignore[no-untyped-def]
    store.create_run(
        NewRun(
            id=run_id,
            name=name,
            task="t",
            model="scripted",
            team=team,
            tags=tags,
            status="completed",
        )
    )
    start = day * 24 * 60
    events: list[Any] = [
        MessageEvent(
            run_id=run_id, seq=1, agent="user", kind="task", content="t", created_at=_at(start)
        )
    ]
    seq = 2
    for i in range(6):
        agent = ("writer", "critic")[i % 2]
        events.append(
            ModelCallEvent(
                run_id=run_id,
                seq=seq,
                agent=agent,
                provider="scripted",
                model="scripted",
                prompt_tokens=10,
                completion_tokens=5,
                latency_s=0.1,
                created_at=_at(start + i),
            )
        )
        events.append(
            MessageEvent(
                run_id=run_id,
                seq=seq + 1,
                agent=agent,
                content=f"{agent} says {i}",
                model="scripted:scripted",
                created_at=_at(start + i),
            )
        )
        seq += 2
    events.append(
        StatusEvent(run_id=run_id, seq=seq, status="completed", created_at=_at(start + 7))
    )
    store.append_events(events)


@pytest.fixture
def two_runs(store):  # type: ignore[no-untyped-def]
    _team_run(store, "a" * 32, "first", team="writers-room", tags={"exp": "a"}, day=0)
    _team_run(store, "b" * 32, "second", team="planning-room", tags={"exp": "b"}, day=2)
    return store


def test_agent_filter_is_in_the_sql_and_reads_only_matching_rows(two_runs, statements) -> None:  # type: ignore[no-untyped-def]
    got = ba.messages(agent="critic")
    main = statements[0]
    assert "events.agent IN" in main[0] or "events.agent =" in main[0]
    assert _sends(main, "critic")
    assert set(got["agent"]) == {"critic"} and len(got) == 6
    # the reader returned 6 rows, not the 14 messages of both runs
    statements.clear()
    sizes: list[int] = []
    original = frames._sqlite_fetch if two_runs.dialect == "sqlite" else frames._postgres_fetch

    def counting(store, sql, params):  # type: ignore[no-untyped-def]
        frame = original(store, sql, params)
        sizes.append(len(frame))
        return frame

    name = "_sqlite_fetch" if two_runs.dialect == "sqlite" else "_postgres_fetch"
    setattr(frames, name, counting)
    try:
        ba.messages(agent="critic", team="planning-room")
    finally:
        setattr(frames, name, original)
    assert sizes[0] == 3


def test_run_level_filters_are_subqueries_on_runs(two_runs, statements) -> None:  # type: ignore[no-untyped-def]
    calls = ba.model_calls(tags={"exp": "b"}, run_status="completed")
    sql, _ = statements[0]
    assert "FROM runs" in sql and "tags" in sql
    assert _sends(statements[0], "b") and _sends(statements[0], "completed")
    assert set(calls["run_name"]) == {"second"}
    runs = ba.runs(team=["writers-room"], tags={"exp": "a"})
    assert list(runs["name"]) == ["first"] and runs.loc[0, "tags"] == {"exp": "a"}
    assert list(ba.messages(status="completed", team="writers-room")["run_name"].unique()) == [
        "first"
    ]


def test_since_until_bound_created_at_in_sql(two_runs, statements) -> None:  # type: ignore[no-untyped-def]
    day2 = T0 + timedelta(days=2)
    frame = ba.model_calls(since=day2, until=day2 + timedelta(minutes=3))
    sql, _ = statements[0]
    assert "model_calls.created_at >=" in sql and "model_calls.created_at <" in sql
    assert list(frame["seq"]) == [2, 4, 6] and set(frame["run_name"]) == {"second"}
    # strings and naive datetimes are read as UTC
    assert len(ba.model_calls(since="2026-11-03")) == 6
    assert len(ba.model_calls(until=datetime(2026, 11, 1, 12, 2))) == 2
    with pytest.raises(ConfigError, match="since='soon' is not a date"):
        ba.messages(since="soon")


def test_frame_column_and_run_filters_combine(two_runs) -> None:  # type: ignore[no-untyped-def]
    both = ba.messages(["first", "b" * 8], agent=["writer", "user"], type="text")
    assert set(both["agent"]) == {"writer"} and len(both) == 6
    assert list(both["agent"].cat.categories) == ["writer"]
    assert both["model"].astype(str).eq("scripted:scripted").all()
    assert ba.messages(run_name="second", seq=[1, 3])["seq"].tolist() == [1, 3]
    assert ba.runs(ba.runs(status="completed"))["name"].tolist() == ["first", "second"]


def test_bad_filters_say_what_exists(two_runs) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="cannot filter on 'nope'; columns: run_id"):
        ba.messages(nope=1)
    with pytest.raises(ConfigError, match="unknown run status 'done'"):
        ba.messages(status="done")
    with pytest.raises(ConfigError, match="tags= takes a dict"):
        ba.runs(tags="exp=a")
    with pytest.raises(ConfigError, match="not run ids"):
        frames.messages_frame(two_runs, ["x' OR 1=1 --"])


def test_frames_are_typed(two_runs) -> None:  # type: ignore[no-untyped-def]
    runs = ba.runs()
    assert str(runs["created_at"].dtype) == "datetime64[us, UTC]"
    assert runs["attempts"].dtype == "Int64" and runs["priority"].isna().all()
    calls = ba.model_calls()
    for column in ("prompt_tokens", "completion_tokens", "total_tokens", "attempt", "step"):
        assert calls[column].dtype == "Int64", column
    assert calls["agent"].dtype == "category" and calls["cost_usd"].isna().all()
    assert (calls["total_tokens"] == 15).all()


def test_unknown_tokens_stay_missing(store) -> None:  # type: ignore[no-untyped-def]
    store.create_run(NewRun(id="c" * 32, name="u", task="t", model="x"))
    store.append_events(
        [
            ModelCallEvent(
                run_id="c" * 32,
                seq=1,
                agent="w",
                provider="p",
                model="m",
                prompt_tokens=None,
                completion_tokens=None,
            ),
            ModelCallEvent(
                run_id="c" * 32,
                seq=2,
                agent="w",
                provider="p",
                model="m",
                prompt_tokens=3,
                completion_tokens=None,
            ),
        ]
    )
    calls = ba.model_calls()
    assert calls["prompt_tokens"].isna().tolist() == [True, False]
    assert calls["total_tokens"].isna().all()


def test_attempts_and_fallback_positions(store) -> None:  # type: ignore[no-untyped-def]
    run_id = "d" * 32
    store.create_run(NewRun(id=run_id, name="chain", task="t", model="a|b"))
    statuses = [
        ("w", "retry", "a"),
        ("w", "retry", "a"),
        ("w", "fallback", "a"),
        ("w", "ok", "b"),
        ("c", "ok", "a"),
        ("w", "ok", "a"),
        ("w", "fallback", "a"),
        ("w", "error", "b"),
    ]
    store.append_events(
        [
            ModelCallEvent(
                run_id=run_id, seq=i + 1, agent=agent, provider="p", model=model, status=status
            )
            for i, (agent, status, model) in enumerate(statuses)
        ]
    )
    calls = ba.model_calls(run_id)
    assert calls["attempt"].tolist() == [1, 2, 3, 1, 1, 1, 1, 1]
    assert calls["fallback_position"].tolist() == [0, 0, 0, 1, 0, 0, 0, 1]
    assert len(ba.model_calls(run_id, attempt=1)) == 6  # derived columns filter in pandas


def test_parent_step_of_messages_calls_and_artifacts(store) -> None:  # type: ignore[no-untyped-def]
    run_id = "e" * 32
    store.create_run(NewRun(id=run_id, name="wf", task="t", model="m", workflow="w"))
    store.append_events(
        [
            MessageEvent(run_id=run_id, seq=1, agent="user", kind="task", content="t"),
            StepEvent(run_id=run_id, seq=2, agent="pm", step=1, label="prd", phase="started"),
            ModelCallEvent(run_id=run_id, seq=3, agent="pm", provider="p", model="m"),
            MessageEvent(run_id=run_id, seq=4, agent="pm", content="draft"),
            ArtifactEvent(run_id=run_id, seq=5, agent="pm", name="prd.md", content="# PRD"),
            StepEvent(
                run_id=run_id,
                seq=6,
                agent="pm",
                step=1,
                label="prd",
                phase="finished",
                artifact="prd.md",
            ),
            StepEvent(
                run_id=run_id,
                seq=7,
                agent="qa",
                step=2,
                label="gate",
                phase="skipped",
                reason="no code yet",
            ),
            MessageEvent(run_id=run_id, seq=8, agent="po", content="between steps"),
            HitlRequestEvent(
                run_id=run_id,
                seq=9,
                agent="po",
                request_id="q1",
                prompt="ok?",
                options=["yes", "no"],
            ),
            HitlResponseEvent(run_id=run_id, seq=10, request_id="q1", response="yes"),
        ]
    )
    messages = ba.messages(run_id)
    assert _plain(messages["step"]) == [None, 1, None]  # before, inside, between steps
    assert ba.model_calls(run_id)["step"].tolist() == [1]
    assert ba.artifacts(run_id)["step"].tolist() == [1]
    steps = ba.steps(run_id)
    assert _plain(steps["step"]) == [1, 2] and _plain(steps["artifact"]) == ["prd.md", None]
    assert _plain(steps["status"]) == ["finished", "skipped"]
    assert steps.loc[0, "duration_s"] >= 0 and steps.loc[1, "reason"] == "no code yet"
    hitl = ba.hitl(run_id)
    assert hitl.loc[0, "options"] == ["yes", "no"] and hitl.loc[0, "response"] == "yes"
    assert str(hitl.loc[0, "status"]) == "answered" and hitl.loc[0, "wait_s"] >= 0
    assert len(ba.hitl(status="pending")) == 0


def test_rows_written_out_of_order_come_back_in_run_then_seq_order(store) -> None:  # type: ignore[no-untyped-def]
    # the queries have no ORDER BY (see frames._in_run_order): the order is made here
    early, late = "1" * 32, "0" * 32  # the later run has the smaller id
    store.create_run(NewRun(id=early, name="early", task="t", model="m"))
    store.create_run(NewRun(id=late, name="late", task="t", model="m"))

    def said(run_id: str, seqs: range) -> list[Any]:
        return [MessageEvent(run_id=run_id, seq=s, agent="a", content=str(s)) for s in seqs]

    store.append_events(said(late, range(3, 5)))
    store.append_events(said(early, range(4, 6)))
    store.append_events(said(late, range(1, 3)))
    store.append_events(said(early, range(1, 4)))
    frame = ba.messages()
    assert list(zip(frame["run_name"], frame["seq"], strict=True)) == [
        ("early", 1),
        ("early", 2),
        ("early", 3),
        ("early", 4),
        ("early", 5),
        ("late", 1),
        ("late", 2),
        ("late", 3),
        ("late", 4),
    ]
    assert frame["content"].tolist() == ["1", "2", "3", "4", "5", "1", "2", "3", "4"]
    assert list(frame["run_id"].cat.categories) == [early, late]
    assert list(frame["run_name"].cat.categories) == ["early", "late"]


def test_filter_values_with_quotes_and_backslashes_match_exactly(store) -> None:  # type: ignore[no-untyped-def]
    # on PostgreSQL the values are inlined into the statement (frames.compile_query)
    run_id = "f" * 32
    odd = "o'brien \\ 'x' \\'"
    store.create_run(NewRun(id=run_id, name="odd", task="t", model="m", tags={"k": odd}))
    store.append_events(
        [
            MessageEvent(run_id=run_id, seq=1, agent=odd, content="one"),
            MessageEvent(run_id=run_id, seq=2, agent="plain", content="two"),
            MessageEvent(run_id=run_id, seq=3, agent="o'brien \\\\ 'x' \\'", content="three"),
        ]
    )
    assert ba.messages(agent=odd)["content"].tolist() == ["one"]
    assert ba.messages(agent=[odd, "plain"])["content"].tolist() == ["one", "two"]
    assert ba.messages(tags={"k": odd})["content"].tolist() == ["one", "two", "three"]
    assert ba.messages(agent="o'brien' OR '1'='1").empty


def test_stored_times_without_full_microseconds_read_exactly(store) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    run_id = "9" * 32
    store.create_run(NewRun(id=run_id, name="t", task="t", model="m"))
    store.append_events(
        [
            MessageEvent(run_id=run_id, seq=s, agent="a", content="x", created_at=_at(0))
            for s in (1, 2, 3)
        ]
    )
    if store.dialect == "sqlite":  # text written by something other than SQLAlchemy
        with store.transaction() as conn:
            for seq, stored in ((2, "2026-11-01 12:00:05.5"), (3, "2026-11-01 12:00:07")):
                conn.execute(
                    text("UPDATE events SET created_at = :t WHERE run_id = :r AND seq = :s"),
                    {"t": stored, "r": run_id, "s": seq},
                )
        expected = [_at(0), _at(5.5 / 60), _at(7 / 60)]
    else:
        expected = [_at(0)] * 3
    frame = ba.messages(run_id)
    assert str(frame["created_at"].dtype) == "datetime64[us, UTC]"
    assert frame["created_at"].tolist() == [pd.Timestamp(t) for t in expected]
