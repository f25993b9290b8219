"""Runs on real ``botarmy-nb worker`` processes over a real Redis broker and PostgreSQL:
the same events as a local run, live events in this process, control, bad input."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from dist_services import (
    Cluster,
    assert_gap_free,
    conversation,
    wait_until,
)

from botarmy_nb import api
from botarmy_nb.errors import ConfigError
from botarmy_nb.status import collect_status

TASK = "Write a release note for the offline mode"


def _shape(events: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (e.type, e.agent, getattr(e, "kind", None), getattr(e, "status", None),
         getattr(e, "content", None), getattr(e, "name", None))
        for e in events
    ]  # fmt: skip


def test_a_celery_run_stores_the_same_events_as_a_local_run(cluster: Cluster) -> None:
    cluster.start_worker("--concurrency", "2")
    local = api.run(TASK, team="writers-room", executor="local").wait(60)
    remote = api.run(TASK, team="writers-room", executor="celery")
    assert remote.wait(60).status == "completed" == local.status
    assert remote.record.executor == "celery" and remote.record.attempts == 1
    assert remote.record.worker.startswith(cluster.workers[0].owner_prefix)
    assert _shape(assert_gap_free(remote.id)) == _shape(local.events)
    assert remote.artifact("draft.md").content == local.artifact("draft.md").content


def test_a_subscriber_here_receives_a_workers_events_live(cluster: Cluster) -> None:
    from botarmy_nb.bus.redis import RedisFeed

    cluster.start_worker()
    run = api.run(TASK, team="writers-room", model="slowtest:0.3", executor="celery")
    assert isinstance(run._feed(), RedisFeed)
    seen: list[Any] = []
    spoke = threading.Event()

    def on_event(event: Any) -> None:
        seen.append(event)
        if event.type == "message" and event.agent == "writer":
            spoke.set()

    sub = run.subscribe(on_event)
    assert spoke.wait(30), "no live message from the worker"
    assert run.status == "running"  # heard while the run goes on: live, not history
    assert sub.join(60)
    assert run.status == "completed"
    assert [e.seq for e in seen] == [e.seq for e in assert_gap_free(run.id)]


def test_without_workers_a_run_waits_queued_and_status_says_so(cluster: Cluster) -> None:
    run = api.run(TASK, team="writers-room", executor="celery")
    checks = {c.name: c for c in collect_status(inspect_timeout=0.5)}
    assert not checks["workers"].ok and "no worker answered" in checks["workers"].detail
    assert checks["queue"].ok and "1 run(s) queued" in checks["queue"].detail
    assert "botarmy 1" in checks["queue"].detail
    assert run.status == "queued"
    worker = cluster.start_worker()
    assert run.wait(60).status == "completed"
    checks = {c.name: c for c in collect_status(inspect_timeout=2)}
    assert checks["workers"].ok and f"worker {worker.name}" in checks
    assert "0 run(s) queued" in checks["queue"].detail


def test_status_lists_a_workers_active_runs(cluster: Cluster) -> None:
    worker = cluster.start_worker()
    run = api.run(TASK, team="writers-room", model="slowtest:0.5", executor="celery")
    wait_until(lambda: run.status == "running", 30, "the run to start")
    detail = {c.name: c for c in collect_status(inspect_timeout=2)}[f"worker {worker.name}"]
    assert detail.ok and run.id[:8] in detail.detail
    run.wait(60)


def test_a_run_prepared_by_a_newer_version_fails_with_that_reason(cluster: Cluster) -> None:
    cluster.start_worker()
    prepared = api.prepare(TASK, team="writers-room", executor="celery")
    prepared.request.version = 99
    run = api.submit(prepared)
    assert run.wait(60).status == "failed"
    assert "newer botarmy-nb" in (run.record.error or "")
    last = assert_gap_free(run.id)[-1]
    assert last.type == "status" and last.status == "failed" and "newer" in last.reason


def test_a_task_message_from_a_newer_version_fails_its_run(cluster: Cluster) -> None:
    from botarmy_nb.store.base import open_store
    from botarmy_nb.worker.app import TASK_NAME, celery_app

    cluster.start_worker()
    run = api.run(TASK, team="writers-room", executor="celery", queue="parked")
    celery_app().send_task(  # the same run, sent by a future botarmy-nb
        TASK_NAME, args=[{"type": "run", "version": 7, "run_id": run.id}], queue="botarmy"
    )
    assert run.wait(60).status == "failed"
    assert "payload version 7" in (open_store().get_run(run.id).error or "")
    assert_gap_free(run.id)


def test_cancel_from_this_process_stops_a_run_on_a_worker(cluster: Cluster) -> None:
    cluster.start_worker()
    run = api.run(TASK, team="writers-room", model="slowtest:1.0", executor="celery")
    wait_until(
        lambda: any(e.type == "message" and e.agent == "writer" for e in run.events),
        30,
        "the writer's first message",
    )
    assert run.cancel(grace_s=5) == "cancelled"
    events = assert_gap_free(run.id)
    assert events[-1].type == "status" and events[-1].status == "cancelled"
    assert len(conversation(events)) < 5  # stopped before the critic could approve


def test_a_run_timeout_stops_it_and_says_so(cluster: Cluster) -> None:
    cluster.start_worker()
    run = api.run(TASK, team="writers-room", model="slowtest:1.0", executor="celery", timeout_s=1.5)
    assert run.wait(60).status == "cancelled"
    assert run.record.stop_reason == "timed out after 1.5 s"
    assert_gap_free(run.id)


def test_runs_go_to_their_queue_and_urgent_runs_first(cluster: Cluster) -> None:
    from botarmy_nb.store.base import open_store

    routed = api.run(TASK, team="writers-room", executor="celery", queue="gpu")
    calm = [api.run(TASK, team="writers-room", executor="celery", priority=1) for _ in range(3)]
    urgent = api.run(TASK, team="writers-room", executor="celery", priority=9)
    cluster.start_worker("--concurrency", "1")
    for run in [*calm, urgent]:
        assert run.wait(60).status == "completed"
    started = {r.id: r.started_at for r in open_store().runs_by_id([r.id for r in calm])}
    assert urgent.record.started_at < min(started.values())
    assert routed.status == "queued"  # nobody serves "gpu" yet
    cluster.start_worker("--queues", "gpu,other")
    assert routed.wait(60).status == "completed"


def test_two_hundred_queued_runs_go_through_two_workers(cluster: Cluster) -> None:
    from botarmy_nb.store.base import open_store

    prepared = api.prepare(TASK, team="writers-room", executor="celery")
    ids = [api.submit(prepared).id for _ in range(200)]
    first = cluster.start_worker("--concurrency", "4")
    second = cluster.start_worker("--concurrency", "4")
    store = open_store()

    def all_done() -> bool:
        return all(r.status == "completed" for r in store.runs_by_id(ids))

    wait_until(all_done, 180, "200 runs to complete", interval=0.5)
    records = store.runs_by_id(ids)
    by = {w.owner_prefix: 0 for w in (first, second)}
    for record in records:
        by[next(p for p in by if record.worker.startswith(p))] += 1
        assert record.attempts == 1
    assert all(count > 0 for count in by.values()), by
    reference = conversation(assert_gap_free(ids[0]))
    for run_id in ids[1:]:
        assert conversation(assert_gap_free(run_id)) == reference


# -- bad input --------------------------------------------------------------------------------


def test_a_wrong_redis_password_is_a_clear_error_with_the_password_hidden(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    import subprocess

    from dist_services import RedisServer, service_unavailable, worker_command

    from botarmy_nb import settings

    if shutil.which("redis-server") is None:
        service_unavailable("Redis", "no redis-server binary")
    (tmp_path / "r").mkdir()
    server = RedisServer(tmp_path / "r", password="right-horse-battery").start()
    try:
        url = server.url(password="wrong-staple-4242")
        monkeypatch.setenv("BOTARMY_REDIS_URL", url)
        settings.reset_settings()
        with pytest.raises(ConfigError) as caught:
            api.run(TASK, team="writers-room", executor="celery")
        message = str(caught.value)
        assert f"127.0.0.1:{server.port}" in message and "cannot reach Redis" in message
        assert "wrong-staple-4242" not in message and "***" in message
        assert "invalid username-password" in message or "WRONGPASS" in message
        assert api.runs().empty  # nothing was registered
        result = subprocess.run(
            [*worker_command()], capture_output=True, text=True, timeout=60,
            env={**__import__("os").environ, "BOTARMY_REDIS_URL": url},
        )  # fmt: skip
        assert result.returncode != 0
        assert "cannot reach Redis" in result.stderr and "wrong-staple-4242" not in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        server.stop()


def test_the_celery_executor_refuses_without_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    from dist_services import free_port

    from botarmy_nb import settings

    monkeypatch.delenv("BOTARMY_REDIS_URL", raising=False)
    settings.reset_settings()
    with pytest.raises(ConfigError, match="BOTARMY_REDIS_URL is not set"):
        api.run(TASK, team="writers-room", executor="celery")
    monkeypatch.setenv("BOTARMY_REDIS_URL", f"redis://:pw-9876@127.0.0.1:{free_port()}/0")
    settings.reset_settings()
    with pytest.raises(ConfigError, match="cannot reach Redis") as caught:
        api.run(TASK, team="writers-room", executor="celery")
    assert "pw-9876" not in str(caught.value)
    monkeypatch.setenv("BOTARMY_REDIS_URL", "http://127.0.0.1:6379/0")
    settings.reset_settings()
    with pytest.raises(ConfigError, match="not usable"):
        api.run(TASK, team="writers-room", executor="celery")
    assert api.runs().empty


def test_an_unknown_run_id_in_a_task_is_skipped(cluster: Cluster) -> None:
    from botarmy_nb.worker.task import handle

    assert handle({"type": "run", "version": 1, "run_id": "f" * 32}) == "skipped"
    assert handle({"nonsense": True}) == "refused"
