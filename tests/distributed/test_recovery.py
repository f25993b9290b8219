"""Crash recovery on real services: workers SIGKILLed at random points, a run that keeps
killing its worker, Redis and PostgreSQL restarting under running runs."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from dist_services import (
    Cluster,
    PgCluster,
    RedisServer,
    WorkerProcess,
    assert_gap_free,
    close_cluster,
    conversation,
    make_cluster,
    wait_until,
)

from botarmy_nb import api
from botarmy_nb.errors import StoreError

TASK = "Draft the migration plan for the billing service"


def _reference() -> list[tuple[Any, ...]]:
    """The conversation of an uninterrupted run (the scripted model is deterministic)."""
    return conversation(api.run(TASK, team="writers-room", executor="local").wait(60).events)


def _running_on(worker: WorkerProcess) -> list[str]:
    from botarmy_nb.store.base import open_store

    return [
        r.id
        for r in open_store().list_runs(status="running")
        if (r.worker or "").startswith(worker.owner_prefix) and r.last_seq > 1
    ]


def _resumed_markers(events: list[Any]) -> list[Any]:
    return [e for e in events if e.type == "status" and e.status == "running" and e.truncate_after]


def _settled(run_ids: list[str]) -> bool:
    from botarmy_nb.store.base import open_store

    try:
        records = open_store().runs_by_id(run_ids)
    except StoreError:  # the database is restarting
        return False
    return all(r.status in ("completed", "failed", "cancelled") for r in records)


def test_runs_survive_workers_killed_at_random_points(cluster: Cluster) -> None:
    rng = random.Random(20261127)
    reference = _reference()
    # a run can be in flight on every victim: the attempt limit is another test's subject
    cluster.env["BOTARMY_MAX_ATTEMPTS"] = "10"
    alive = [cluster.start_worker("-c", "2"), cluster.start_worker("-c", "2")]
    ids = [
        api.run(TASK, team="writers-room", model="slowtest:0.4", executor="celery").id
        for _ in range(8)
    ]
    for _ in range(3):  # up to three kills, each at a random point of a run in flight
        victim = wait_until(
            lambda: _settled(ids) or next((w for w in alive if _running_on(w)), None),
            60,
            "a run in flight",
        )
        if victim is True:  # every run ended before the next kill
            break
        time.sleep(rng.uniform(0.0, 1.2))
        victim.kill()
        alive.remove(victim)
        alive.append(cluster.start_worker("-c", "2"))
    wait_until(lambda: _settled(ids), 90, "every run to end", interval=0.25)
    from botarmy_nb.store.base import open_store

    resumed = 0
    for record in open_store().runs_by_id(ids):
        assert record.status == "completed", (record.id, record.status, record.error)
        events = assert_gap_free(record.id)
        assert conversation(events) == reference  # one conversation, nothing said twice
        if record.attempts > 1:
            resumed += 1
            markers = _resumed_markers(events)
            assert markers, f"run {record.id[:8]} resumed without a marker"
            assert all("resumed after seq" in m.reason for m in markers)
    assert resumed >= 1


def test_a_run_that_keeps_killing_its_worker_fails_after_max_attempts(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botarmy_nb import settings

    env = {"BOTARMY_MAX_ATTEMPTS": "2"}
    monkeypatch.setenv("BOTARMY_MAX_ATTEMPTS", "2")
    settings.reset_settings()
    run = api.run(TASK, team="writers-room", model="slowtest:1.0", executor="celery")
    for attempt in (1, 2):
        worker = cluster.start_worker(env=env)
        wait_until(lambda w=worker: run.id in _running_on(w), 60, f"attempt {attempt}")
        assert run.record.attempts == attempt
        worker.kill()
    cluster.start_worker(env=env)  # its recovery loop finds the run lost, twice over
    wait_until(lambda: run.status == "failed", 60, "the run to fail")
    assert "killed its worker 2 times" in run.record.error
    events = assert_gap_free(run.id)
    assert events[-1].type == "status" and events[-1].status == "failed"


def test_a_redis_restart_mid_run_loses_nothing(cluster: Cluster) -> None:
    reference = _reference()
    cluster.start_worker("-c", "4")
    runs = [
        api.run(TASK, team="writers-room", model="slowtest:0.5", executor="celery")
        for _ in range(3)
    ]
    seen: list[Any] = []
    ended = threading.Event()

    def on_event(event: Any) -> None:
        seen.append(event)
        if event.type == "status" and event.status == "completed":
            ended.set()

    runs[0].subscribe(on_event)
    wait_until(
        lambda: all(r.status == "running" and r.record.last_seq > 2 for r in runs),
        30,
        "the runs to be under way",
    )
    cluster.redis.restart()
    for run in runs:
        assert run.wait(90).status == "completed"
        assert conversation(assert_gap_free(run.id)) == reference
    assert ended.wait(30), "the viewer never heard the end"
    assert [e.seq for e in seen] == [e.seq for e in runs[0].events]
    after = api.run(TASK, team="writers-room", executor="celery")  # the broker is back
    assert after.wait(60).status == "completed"


def test_a_postgres_restart_mid_run_loses_no_stored_event(
    tmp_path: Path,
    pg_cluster: PgCluster,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database = pg_cluster.create_database("botarmy")
    found = make_cluster(tmp_path, database, redis_server, monkeypatch)
    # leases outlast the outage: this test is about riding it out (resuming is the
    # chaos test's), so the runs keep their owner
    found.env["BOTARMY_LEASE_S"] = "20"
    monkeypatch.setenv("BOTARMY_LEASE_S", "20")
    try:
        reference = _reference()
        found.start_worker("-c", "4")
        runs = [
            api.run(TASK, team="writers-room", model="slowtest:0.5", executor="celery")
            for _ in range(3)
        ]
        wait_until(
            lambda: all(r.status == "running" and r.record.last_seq > 2 for r in runs),
            30,
            "the runs to be under way",
        )
        pg_cluster.crash()
        time.sleep(0.5)  # the outage itself: the runs go on talking meanwhile
        pg_cluster.start()
        wait_until(lambda: _settled([r.id for r in runs]), 90, "every run to end", interval=0.25)
        for run in runs:
            assert run.status == "completed", run.record.error
            assert conversation(assert_gap_free(run.id)) == reference
    finally:
        close_cluster(found)
