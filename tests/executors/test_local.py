"""The in-process executor: what it keeps of an ended run, and the record it hands over."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc

import pytest

import botarmy_nb as ba
from botarmy_nb.executors.local import _Outcome, get_local_executor


def test_an_ended_run_keeps_its_outcome_not_its_task(use_database: str) -> None:
    run = ba.run("Plan a team wiki", team="writers-room", model="scripted").wait(60)
    assert run.status == "completed"
    executor = get_local_executor()
    # what is kept for 1,000 ended runs is a small record: not the run's future (through
    # its done-callbacks, the run's task and coroutine), not even a bare future
    assert executor._ended[run.id] == _Outcome("completed", None)
    kept = executor.future(run.id)
    assert kept is not None and kept.result(0) == "completed"
    assert not [r for r in gc.get_referrers(kept) if isinstance(r, asyncio.Task)]


def test_outcomes_keep_results_errors_and_cancellation() -> None:
    done: concurrent.futures.Future[str] = concurrent.futures.Future()
    done.set_result("failed")
    assert _Outcome.of(done).future().result(0) == "failed"
    broken: concurrent.futures.Future[str] = concurrent.futures.Future()
    broken.set_exception(RuntimeError("store down"))
    with pytest.raises(RuntimeError, match="store down"):
        _Outcome.of(broken).future().result(0)
    stopped: concurrent.futures.Future[str] = concurrent.futures.Future()
    stopped.cancel()
    assert _Outcome.of(stopped).future().cancelled()


def test_a_new_local_run_is_not_read_back_before_it_starts(use_database: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """ba.run registers the run and hands its record to the executor (one database
    round trip fewer on every run)."""
    from botarmy_nb.store.sql import SqlRunStore

    reads: list[str] = []
    real = SqlRunStore.get_run

    def counting(self, ref, **kwargs):  # type: ignore[no-untyped-def]
        reads.append(ref)
        return real(self, ref, **kwargs)

    monkeypatch.setattr(SqlRunStore, "get_run", counting)
    run = ba.run("Plan a team wiki", team="writers-room", model="scripted")
    get_local_executor().future(run.id).result(60)
    assert reads == []


def test_importing_one_executor_first_still_registers_the_other() -> None:
    from botarmy_nb.executors.base import executor_names

    assert {"local", "celery"} <= set(executor_names())
