"""The engine end to end on the scripted model: every team type, events, calls, checkpoints."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import pytest

from botarmy_nb.engine.lease import process_owner
from botarmy_nb.engine.request import RunRequest
from botarmy_nb.engine.runner import execute_run
from botarmy_nb.events import ArtifactEvent, MessageEvent, ModelCallEvent, StatusEvent
from botarmy_nb.specs.catalog import find_team
from botarmy_nb.store.frames import model_calls_frame
from botarmy_nb.store.records import NewRun


def _claimed(store, run_id: str, publish) -> str:  # type: ignore[no-untyped-def]
    """Claim a queued run for this process, as an executor does, and execute it."""
    owner = process_owner()
    assert store.claim_run(run_id, owner, statuses=["queued"], lease_s=30) is not None
    return asyncio.run(execute_run(run_id, store, publish=publish, owner=owner))


def _execute(store, team: str, task: str = "Plan a team wiki", **request):  # type: ignore[no-untyped-def]
    spec = find_team(team)
    req = RunRequest(task=task, team=spec, default_model="scripted", **request)
    run_id = uuid.uuid4().hex
    store.create_run(
        NewRun(id=run_id, name=team, task=task, model="scripted", team=team, spec=req.to_json())
    )
    live: list = []
    status = _claimed(store, run_id, live.append)
    return run_id, status, live


@pytest.mark.parametrize(
    "team, speakers",
    [
        ("writers-room", ["writer", "critic", "writer", "critic"]),
        ("planning-room", ["analyst", "pm", "architect"]),
        ("support-swarm", ["researcher", "writer", "reviewer"]),
        ("review-graph", ["analyst", "dev", "qa", "dev", "qa", "writer"]),
    ],
)
def test_each_team_type_runs_to_completion(store, team: str, speakers: list[str]) -> None:  # type: ignore[no-untyped-def]
    run_id, status, live = _execute(store, team)
    assert status == "completed"
    events = store.events(run_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))  # no gaps
    assert [e.seq for e in live] == [e.seq for e in events]  # live saw exactly what is stored
    said = [
        e.agent for e in events if isinstance(e, MessageEvent) and e.kind in ("text", "thought")
    ]
    assert said == speakers
    assert isinstance(events[0], StatusEvent) and events[0].status == "running"
    assert isinstance(events[-1], StatusEvent) and events[-1].status == "completed"
    record = store.get_run(run_id)
    assert record.status == "completed" and record.finished_at is not None
    assert record.last_seq == len(events)


@pytest.mark.parametrize("team", ["writers-room", "planning-room", "review-graph"])
def test_seq_follows_causality(store, team: str) -> None:  # type: ignore[no-untyped-def]
    """The task first; every model call before the message it produced (any Python)."""
    run_id, _, _ = _execute(store, team)
    events = store.events(run_id)
    assert isinstance(events[1], MessageEvent) and events[1].kind == "task"
    pending: dict[str, int] = {}
    for event in events[2:]:
        if isinstance(event, ModelCallEvent):
            pending[event.agent] = pending.get(event.agent, 0) + 1
        elif isinstance(event, MessageEvent) and event.kind in ("text", "thought", "stop"):
            assert pending.pop(event.agent, 0) >= 1, f"{event.agent} spoke before its call"
            pending.pop("selector", None)
    assert not {a for a, n in pending.items() if n and a != "selector"}


def test_a_failing_selector_still_leaves_the_task_in_the_transcript(store, slow_model: str) -> None:  # type: ignore[no-untyped-def]
    spec = find_team("planning-room")
    req = RunRequest(task="Plan it", team=spec, default_model="broken:scripted")
    run_id = uuid.uuid4().hex
    store.create_run(NewRun(id=run_id, name="s", task="Plan it", model="b", spec=req.to_json()))
    assert _claimed(store, run_id, lambda e: None) == "failed"
    messages = [e for e in store.events(run_id) if isinstance(e, MessageEvent)]
    assert [(m.agent, m.kind, m.content) for m in messages] == [("user", "task", "Plan it")]


def test_every_model_call_is_a_row_with_usage(store) -> None:  # type: ignore[no-untyped-def]
    run_id, _, _ = _execute(store, "planning-room")
    call_events = [e for e in store.events(run_id) if isinstance(e, ModelCallEvent)]
    calls = model_calls_frame(store, [run_id])
    assert len(calls) == len(call_events) >= 6  # 3 agents + the selector's choices
    assert list(calls["seq"]) == [e.seq for e in call_events]
    assert (calls["prompt_tokens"] > 0).all() and (calls["completion_tokens"] > 0).all()
    assert set(calls["agent"]) == {"analyst", "pm", "architect", "selector"}
    assert (calls["latency_s"] >= 0).all() and set(calls["provider"]) == {"scripted"}


def test_artifacts_are_stored_and_written(store, botarmy_home: Path) -> None:  # type: ignore[no-untyped-def]
    run_id, _, _ = _execute(store, "writers-room")
    artifacts = store.artifacts(run_id)
    assert [a.name for a in artifacts] == ["draft.md", "review.md"]
    draft = artifacts[0]
    assert draft.agent == "writer" and re.search(r"## \w+ 2: Plan a team wiki", draft.content)
    assert Path(draft.path).read_text().strip() == draft.content.strip()
    assert Path(draft.path).is_relative_to(botarmy_home)
    assert any(isinstance(e, ArtifactEvent) for e in store.events(run_id))


def test_checkpoints_are_saved_as_the_run_goes(store) -> None:  # type: ignore[no-untyped-def]
    run_id, _, _ = _execute(store, "review-graph", checkpoint_interval_s=0)
    from sqlalchemy import select

    from botarmy_nb.store.schema import CheckpointRow

    with store.reading() as conn:
        query = select(CheckpointRow.seq).where(CheckpointRow.run_id == run_id)
        seqs = list(conn.execute(query).scalars())
    assert len(seqs) >= 3  # several during the run plus the final one
    latest = store.latest_checkpoint(run_id)
    assert latest.state["version"] == 1
    assert set(latest.state["team"]["agent_states"]) >= {"analyst", "dev", "qa", "writer"}


def test_max_turns_stops_the_team(store) -> None:  # type: ignore[no-untyped-def]
    run_id, status, _ = _execute(store, "writers-room", max_turns=1)
    said = [e for e in store.events(run_id) if isinstance(e, MessageEvent) and e.agent != "user"]
    assert status == "completed" and len(said) == 1
    assert "Maximum number of turns" in store.get_run(run_id).stop_reason


def test_a_failing_provider_fails_the_run_with_its_reason(store, slow_model: str) -> None:  # type: ignore[no-untyped-def]
    _run_id, status, _ = _execute(store, "writers-room", task="x")
    assert status == "completed"
    spec = find_team("writers-room")
    req = RunRequest(task="x", team=spec, default_model="broken:scripted")
    broken = uuid.uuid4().hex
    store.create_run(NewRun(id=broken, name="b", task="x", model="broken", spec=req.to_json()))
    assert _claimed(store, broken, lambda e: None) == "failed"
    record = store.get_run(broken)
    assert "provider said no (HTTP 503)" in record.error
    calls = model_calls_frame(store, [broken])
    # a connection error is transient: retried (BOTARMY_MODEL_RETRIES=3), then given up
    assert list(calls["status"]) == ["retry", "retry", "retry", "error"]
    assert "HTTP 503" in calls.loc[3, "error"]
    assert store.events(broken)[-1].status == "failed"


def test_a_short_team_run_ends_in_one_write_with_its_final_state(store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The conversation's end, its team state and the terminal status are one transaction:
    `wait()` awaits one write at the end of a run, not two."""
    from botarmy_nb.store.sql import SqlRunStore

    writes: list[dict] = []
    real = SqlRunStore.append_events

    def counting(self, events, **kwargs):  # type: ignore[no-untyped-def]
        writes.append({"seqs": [e.seq for e in events], **kwargs})
        return real(self, events, **kwargs)

    monkeypatch.setattr(SqlRunStore, "append_events", counting)
    run_id, status, _ = _execute(store, "writers-room", checkpoint_interval_s=3600)
    assert status == "completed"
    assert len(writes) == 1  # nothing was due mid-run: the whole run is the last batch
    (last,) = writes
    assert last["run_update"]["status"] == "completed"
    seq, state = last["checkpoint"]
    messages = [e for e in store.events(run_id) if isinstance(e, MessageEvent)]
    assert seq == messages[-1].seq  # the state that produced the last message
    assert store.latest_checkpoint(run_id).seq == seq and "team" in state
    assert store.get_run(run_id).last_seq == last["seqs"][-1]


def test_a_failed_end_write_is_raised_and_leaves_no_partial_end(store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """If the one end-of-run transaction fails for good, nothing of it is stored (no
    checkpoint naming events that are not there) and the store's error is raised."""
    from botarmy_nb.errors import StoreError
    from botarmy_nb.store.sql import SqlRunStore

    real = SqlRunStore.append_events

    def failing_end(self, events, **kwargs):  # type: ignore[no-untyped-def]
        if kwargs.get("run_update"):
            raise StoreError("run store: disk full")
        return real(self, events, **kwargs)

    monkeypatch.setattr(SqlRunStore, "append_events", failing_end)
    with pytest.raises(StoreError, match="could not record its end"):
        _execute(store, "writers-room", checkpoint_interval_s=3600)
    (record,) = [r for r in store.list_runs() if r.team == "writers-room"]
    assert record.status == "running" and record.last_seq == 0  # the lease will end it
    assert store.latest_checkpoint(record.id) is None and store.events(record.id) == []


def test_execute_run_uses_the_record_it_is_given(store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """An executor that just registered or claimed the run passes its record: the run
    loop does not read it back."""
    from botarmy_nb.store.sql import SqlRunStore

    spec = find_team("writers-room")
    req = RunRequest(task="Plan", team=spec, default_model="scripted")
    run_id = uuid.uuid4().hex
    store.create_run(
        NewRun(
            id=run_id,
            name="w",
            task="Plan",
            model="scripted",
            team="writers-room",
            spec=req.to_json(),
        )
    )
    owner = process_owner()
    record = store.claim_run(run_id, owner, statuses=["queued"], lease_s=30)

    def no_reads(self, ref, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the run was read back")

    monkeypatch.setattr(SqlRunStore, "get_run", no_reads)
    status = asyncio.run(
        execute_run(run_id, store, publish=lambda e: None, owner=owner, record=record)
    )
    assert status == "completed"


def test_a_finished_run_leaves_nothing_of_itself_in_memory(use_database: str) -> None:
    """Once a run's end is stored, nothing of it stays alive in this process but a small
    outcome record: not its team, its events or its final state (``reply`` and resumes
    read the checkpoint back from the store). Kept objects live through the following
    runs' collections and make full collections more frequent."""
    import gc

    from autogen_agentchat.teams import BaseGroupChat

    import botarmy_nb as ba

    run = ba.run("Plan a team wiki", team="writers-room", model="scripted").wait(60)
    assert run.status == "completed"
    ba.run("Plan a team wiki", team="writers-room", model="scripted").wait(60)  # the next
    gc.collect()
    alive = gc.get_objects()
    events = [o for o in alive if type(o).__module__ == "botarmy_nb.events"]
    assert not [e for e in events if getattr(e, "run_id", None) == run.id]
    assert not [o for o in alive if isinstance(o, BaseGroupChat)]
