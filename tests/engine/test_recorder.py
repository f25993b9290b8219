"""The recorder and its writer: batches off the run loop, transient errors retried,
failures that end the run right after what is stored."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

import botarmy_nb as ba
from botarmy_nb.engine.recorder import RunRecorder
from botarmy_nb.errors import StoreError
from botarmy_nb.events import MessageEvent
from botarmy_nb.store.records import NewRun
from botarmy_nb.store.sql import SqlRunStore


def _locked() -> OperationalError:
    import sqlite3

    return OperationalError("INSERT …", {}, sqlite3.OperationalError("database is locked"))


def test_a_store_that_fails_from_the_second_write_ends_the_run(
    monkeypatch, botarmy_home, slow_model
) -> None:  # type: ignore[no-untyped-def]
    from botarmy_nb.bus.local import local_bus
    from botarmy_nb.store.base import open_store

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
    assert not local_bus().is_active(run.id)  # the end closed it; late events go nowhere
    assert calls["n"] >= 2  # a batch mid-run, then the failing final one


def test_transient_write_errors_are_retried_and_lose_nothing(monkeypatch, store) -> None:  # type: ignore[no-untyped-def]
    run_id = "c" * 32
    store.create_run(NewRun(id=run_id, name="r", task="t", model="scripted"))
    recorder = RunRecorder(store, run_id, lambda e: None, flush_interval_s=3600)
    real = SqlRunStore.append_events
    failures = iter([True, True, False])

    def flaky(self, events, **kwargs):  # type: ignore[no-untyped-def]
        if next(failures, False):
            raise StoreError("run store: database is locked") from _locked()
        return real(self, events, **kwargs)

    monkeypatch.setattr(SqlRunStore, "append_events", flaky)
    for i in range(3):
        recorder.emit(MessageEvent(run_id=run_id, agent="a", content=f"m{i}"))
    recorder.flush()
    recorder.emit(MessageEvent(run_id=run_id, agent="a", content="m3"))
    recorder.flush()
    recorder.drain_sync(timeout=30)
    assert [e.seq for e in store.events(run_id)] == [1, 2, 3, 4]
    assert recorder.stored_seq == 4


def test_a_lasting_error_fails_after_the_budget_with_the_reason(monkeypatch, store) -> None:  # type: ignore[no-untyped-def]
    from botarmy_nb.engine.writer import StoreWriter
    from botarmy_nb.store.sql import is_transient

    run_id = "d" * 32
    store.create_run(NewRun(id=run_id, name="r", task="t", model="scripted"))
    writer = StoreWriter("test", budget_s=0.3, is_transient=is_transient)
    recorder = RunRecorder(store, run_id, lambda e: None, flush_interval_s=3600, writer=writer)

    def locked(self, events, **kwargs):  # type: ignore[no-untyped-def]
        raise StoreError("run store: database is locked") from _locked()

    monkeypatch.setattr(SqlRunStore, "append_events", locked)
    recorder.emit(MessageEvent(run_id=run_id, agent="a", content="m"))
    recorder.flush()
    with pytest.raises(StoreError, match=r"database is locked \(gave up after \d+ attempts"):
        recorder.drain_sync(timeout=10)
    # the run goes on numbering right after what is stored: no gap
    assert recorder.rewind() == 0 and recorder.seq == 0


def test_schema_errors_are_not_retried() -> None:
    import sqlite3

    from botarmy_nb.store.sql import is_transient

    missing = OperationalError("x", {}, sqlite3.OperationalError("no such column: kind"))
    assert is_transient(_locked()) and not is_transient(missing)
    assert not is_transient(ValueError("x"))


def test_the_writer_lets_a_written_batch_go() -> None:
    """A job (a run's last batch and final team state) is dropped once written, not kept
    alive by the writer thread until the next job arrives."""
    import gc
    import time
    import weakref

    from botarmy_nb.engine.writer import StoreWriter

    class State:
        pass

    writer = StoreWriter("test-drop", budget_s=1.0, is_transient=lambda exc: False)
    state = State()
    gone = weakref.ref(state)

    def job(held: State = state) -> None:
        assert held is not None

    writer.submit(job).result(5)
    del job, state
    deadline = time.monotonic() + 5
    while gone() is not None and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.01)
    assert gone() is None
