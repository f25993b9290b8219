"""The run store on SQLite and PostgreSQL: runs, idempotent batches, artifacts, checkpoints."""

from __future__ import annotations

import pytest

from botarmy_nb.errors import NotFoundError
from botarmy_nb.events import ArtifactEvent, MessageEvent, ModelCallEvent, StatusEvent
from botarmy_nb.store.frames import artifacts_frame, messages_frame, model_calls_frame
from botarmy_nb.store.records import NewRun


def _run(store, run_id: str = "a" * 32, name: str = "r1"):  # type: ignore[no-untyped-def]
    return store.create_run(NewRun(id=run_id, name=name, task="t", model="scripted"))


def _batch(run_id: str, start: int, n: int) -> list:
    out = []
    for seq in range(start, start + n):
        if seq % 3 == 0:
            out.append(
                ModelCallEvent(
                    run_id=run_id,
                    seq=seq,
                    agent="w",
                    provider="scripted",
                    model="scripted",
                    prompt_tokens=seq,
                    completion_tokens=2,
                )
            )
        else:
            out.append(
                MessageEvent(
                    run_id=run_id,
                    seq=seq,
                    agent="w" if seq % 2 else "c",
                    content=f"message <{seq}>",
                )
            )
    return out


def test_create_get_by_prefix_and_name(store) -> None:  # type: ignore[no-untyped-def]
    record = _run(store)
    assert record.status == "queued" and record.created_at.tzinfo is not None
    assert store.get_run("aaaa").id == record.id
    assert store.get_run("r1").id == record.id
    with pytest.raises(NotFoundError, match="no run 'zzz'"):
        store.get_run("zzz")


def test_batches_are_idempotent_and_ordered(store) -> None:  # type: ignore[no-untyped-def]
    run_id = _run(store).id
    batch = _batch(run_id, 1, 300)
    store.append_events(batch)
    store.append_events(batch[50:300])  # a retried batch must not duplicate or fail
    store.append_events(batch[290:300])  # small batches take the plain INSERT path
    events = store.events(run_id)
    assert [e.seq for e in events] == list(range(1, 301))
    assert events[1].content == "message <2>"
    assert store.get_run(run_id).last_seq == 300
    calls = model_calls_frame(store, [run_id])
    assert len(calls) == 100 and calls["prompt_tokens"].sum() == sum(range(3, 301, 3))
    assert store.events(run_id, after_seq=298)[0].seq == 299


def test_fenced_batches_of_every_shape_write_what_they_say(store) -> None:  # type: ignore[no-untyped-def]
    """The write path's statements are built once per shape (fenced or not, with events
    or not, which run fields): each shape still writes its own values and fence."""
    from botarmy_nb.errors import OwnershipLostError

    run_id = _run(store).id
    assert store.claim_run(run_id, "me", statuses=["queued"], lease_s=30) is not None
    store.append_events(_batch(run_id, 1, 5), owner="me")
    store.append_events([], run_id=run_id, owner="me", run_update={"stop_reason": "a"})
    store.append_events(_batch(run_id, 3, 2), owner="me")  # a retry: last_seq stays 5
    record = store.get_run(run_id)
    assert record.last_seq == 5 and record.stop_reason == "a" and record.status == "running"
    store.append_events(
        _batch(run_id, 6, 1), owner="me", run_update={"status": "completed", "error": None}
    )
    record = store.get_run(run_id)
    assert (record.status, record.last_seq, record.stop_reason) == ("completed", 6, "a")
    with pytest.raises(OwnershipLostError):  # not running any more: the fence holds
        store.append_events(_batch(run_id, 7, 1), owner="me")
    with pytest.raises(OwnershipLostError):
        store.append_events([], run_id=run_id, owner="someone else", run_update={"error": "x"})
    assert [e.seq for e in store.events(run_id)] == list(range(1, 7))
    store.append_events([], run_id=run_id, run_update={"error": "y"})  # unfenced
    assert store.get_run(run_id).error == "y"


def test_frames_have_typed_columns(store) -> None:  # type: ignore[no-untyped-def]
    run_id = _run(store).id
    store.append_events(_batch(run_id, 1, 9))
    store.append_events(
        [
            ArtifactEvent(
                run_id=run_id, seq=10, name="a.md", content="# A", agent="w", path="/tmp/a.md"
            )
        ]
    )
    messages = messages_frame(store, [run_id])
    assert list(messages["seq"]) == [1, 2, 4, 5, 7, 8]
    assert (
        str(messages["created_at"].dtype).startswith("datetime64")
        and str(messages["created_at"].dt.tz) == "UTC"
    )
    assert messages["agent"].dtype == "category" and messages["type"].dtype == "category"
    assert list(messages["type"].unique()) == ["text"]
    calls = model_calls_frame(store, [run_id])
    assert calls["prompt_tokens"].dtype == "Int64" and calls["cost_usd"].isna().all()
    artifacts = artifacts_frame(store, [run_id])
    assert artifacts.loc[0, "name"] == "a.md" and artifacts.loc[0, "size"] == 3


def test_events_round_trip_every_type(store) -> None:  # type: ignore[no-untyped-def]
    run_id = _run(store).id
    sent = [
        StatusEvent(run_id=run_id, seq=1, status="running"),
        MessageEvent(run_id=run_id, seq=2, agent="w", content="hi", kind="thought"),
        ArtifactEvent(run_id=run_id, seq=3, name="x.md", content="body"),
    ]
    store.append_events(sent)
    got = store.events(run_id)
    assert [type(e) for e in got] == [type(e) for e in sent]
    assert got[1].kind == "thought" and got[2].content == "body"


def test_checkpoints_keep_the_latest(store) -> None:  # type: ignore[no-untyped-def]
    run_id = _run(store).id
    assert store.latest_checkpoint(run_id) is None
    store.save_checkpoint(run_id, 5, {"agent_states": {"a": 1}})
    store.save_checkpoint(run_id, 9, {"agent_states": {"a": 2}})
    store.save_checkpoint(run_id, 9, {"agent_states": {"a": 3}})  # idempotent
    latest = store.latest_checkpoint(run_id)
    assert latest is not None and latest.seq == 9 and latest.state == {"agent_states": {"a": 2}}


def test_a_refused_fenced_batch_writes_nothing(store) -> None:  # type: ignore[no-untyped-def]
    """On PostgreSQL a batch is sent pipelined and its fence checked before the COMMIT:
    a batch the fence refuses rolls back every insert it queued, not only the update."""
    from botarmy_nb.errors import OwnershipLostError

    run_id = _run(store).id
    assert store.claim_run(run_id, "me", statuses=["queued"], lease_s=30) is not None
    with pytest.raises(OwnershipLostError):
        store.append_events(
            _batch(run_id, 1, 6),
            owner="someone else",
            run_update={"status": "completed"},
            checkpoint=(6, {"team": {"x": 1}}),
        )
    assert store.events(run_id) == [] and store.latest_checkpoint(run_id) is None
    assert model_calls_frame(store, [run_id]).empty
    record = store.get_run(run_id)
    assert (record.status, record.last_seq) == ("running", 0)
    store.append_events(_batch(run_id, 1, 6), owner="me", checkpoint=(6, {"team": {"x": 1}}))
    assert store.get_run(run_id).last_seq == 6 and store.latest_checkpoint(run_id) is not None


def test_a_failing_statement_in_a_batch_is_a_store_error(store) -> None:  # type: ignore[no-untyped-def]
    """An error the pipelined batch reports at its end is wrapped like any other (so the
    writer can tell transient from permanent), nothing of the batch is kept, and the
    connection goes on working."""
    from botarmy_nb.errors import StoreError

    run_id = _run(store).id
    missing = "b" * 32  # no such run: the events' run check refuses the rows
    with pytest.raises(StoreError, match="run store"):
        store.append_events(_batch(missing, 1, 4), checkpoint=(4, {"team": {}}))
    assert store.events(missing) == []
    for _ in range(3):  # whatever connection the pool hands out next still works
        store.append_events(_batch(run_id, 1, 4))
    assert store.get_run(run_id).last_seq == 4
