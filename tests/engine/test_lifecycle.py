"""A run is never left `running` without a live owner: kill -9 makes it `lost` (found by a
reader through its lease), it resumes from its checkpoint, it is never resumed twice, and a
cancel from another process stops it (issue #7, items 2 and 8)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_llm import FakeLLMServer

import botarmy_nb as ba
from botarmy_nb import settings as settings_module
from botarmy_nb.errors import RunBusyError
from botarmy_nb.events import MessageEvent, StatusEvent

OWNER = textwrap.dedent(
    """
    import sys, time
    import botarmy_nb as ba

    run = ba.run("Write a wiki plan", team=sys.argv[1], model=sys.argv[2])
    print(run.id, flush=True)
    run.wait(timeout=120)
    print(run.status, flush=True)
    """
)


@pytest.fixture
def short_lease(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Leases of 2 s renewed every 0.2 s, here and in the processes the test starts."""
    values = {"BOTARMY_LEASE_S": "2", "BOTARMY_HEARTBEAT_S": "0.2"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    settings_module.reset_settings()
    yield values
    settings_module.reset_settings()


@pytest.fixture
def slow_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(latency_s=0.5) as fake:
        yield fake


def _owner(team: str, model: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", OWNER, team, model],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert len(run_id) == 32, proc.stderr.read() if proc.stderr else ""
    return proc, run_id


def _until(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _gap_free(run: ba.Run) -> list:  # type: ignore[type-arg]
    events = run.events
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    return events


def test_kill_9_makes_the_run_lost_then_it_resumes_from_its_checkpoint(
    use_database: str, short_lease: dict[str, str], slow_server: FakeLLMServer
) -> None:
    model = f"openai-compatible:m@{slow_server.url}"
    proc, run_id = _owner("review-graph", model)
    run = ba.get_run(run_id)
    _until(lambda: run.record.last_seq >= 3)  # a first batch (with a checkpoint) stored
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    seen: list = []
    sub = run.subscribe(seen.append)  # a viewer: told of the loss, never left hanging
    run.wait(timeout=30)  # returns: a reader finds the lease expired and marks it lost
    record = run.record
    assert record.status == "lost" and "stopped heart-beating" in record.stop_reason
    assert sub.join(10) and seen[-1].type == "status" and seen[-1].status == "lost"
    events = _gap_free(run)
    marker = events[-1]
    assert isinstance(marker, StatusEvent) and marker.truncate_after == marker.seq - 1
    assert "lost" in set(ba.runs(status="lost")["status"])  # a stored status: SQL sees it

    resumed = ba.resume(run_id)
    resumed.wait(timeout=120)
    assert resumed.status == "completed", resumed.record.error
    events = _gap_free(resumed)
    restarts = [e for e in events if e.type == "status" and e.reason and "resumed" in e.reason]
    assert len(restarts) == 1 and restarts[0].truncate_after == marker.seq
    tasks = [e for e in events if isinstance(e, MessageEvent) and e.kind == "task"]
    assert len(tasks) == 1  # the team went on from its state; the task was not repeated
    assert resumed.record.attempts == 2


def test_a_run_with_a_live_owner_is_never_resumed_or_cancelled_behind_its_back(
    use_database: str, short_lease: dict[str, str], slow_server: FakeLLMServer
) -> None:
    model = f"openai-compatible:m@{slow_server.url}"
    proc, run_id = _owner("writers-room", model)
    run = ba.get_run(run_id)
    _until(lambda: run.record.last_seq >= 2)
    with pytest.raises(RunBusyError, match="running"):
        ba.resume(run_id)
    time.sleep(2.5)  # longer than a lease: the owner's heartbeats keep it alive
    assert run.status == "running"
    status = run.cancel(grace_s=10)  # from another process: the owner stops it
    assert status == "cancelled"
    assert proc.wait(60) == 0 and proc.stdout is not None
    assert proc.stdout.read().strip() == "cancelled"
    events = _gap_free(run)
    assert events[-1].status == "cancelled" and events[-1].reason == "cancelled by the user"
    assert [e.status for e in events if e.type == "status"].count("completed") == 0


def test_wait_without_timeout_returns_for_a_run_whose_process_died(
    botarmy_home: Path, short_lease: dict[str, str], slow_server: FakeLLMServer
) -> None:
    proc, run_id = _owner("writers-room", f"openai-compatible:m@{slow_server.url}")
    run = ba.get_run(run_id)
    _until(lambda: run.record.last_seq >= 1)
    proc.kill()
    proc.wait(10)
    started = time.monotonic()
    assert run.wait().status == "lost"  # no timeout given: still returns
    assert time.monotonic() - started < 10


def test_a_finished_team_run_continues_with_a_reply(botarmy_home: Path) -> None:
    run = ba.run("Write a note about wikis", team="writers-room").wait(60)
    first = run.events
    assert run.status == "completed"
    run.reply("Now make it shorter").wait(60)
    assert run.status == "completed", run.record.error
    events = _gap_free(run)
    assert events[: len(first)] == first  # the first segment is untouched
    segment = events[len(first) :]
    assert segment[0].type == "status" and segment[0].status == "running"
    assert segment[1].type == "status" and segment[1].status == "continued"
    feedback = segment[2]
    assert isinstance(feedback, MessageEvent) and feedback.content == "Now make it shorter"
    assert feedback.kind == "feedback"
    assert any(isinstance(e, MessageEvent) and e.agent == "writer" for e in segment[3:])
    terminals = [e for e in events if e.type == "status" and e.status == "completed"]
    assert len(terminals) == 2  # one per segment
    with pytest.raises(ba.BotArmyError, match="empty"):
        run.reply("  ")


def _kill_then_resume(proc: subprocess.Popen[str], run_id: str) -> ba.Run:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    run = ba.get_run(run_id)
    run.wait(timeout=30)
    assert run.status == "lost"
    resumed = ba.resume(run_id)
    resumed.wait(timeout=120)
    assert resumed.status == "completed", resumed.record.error
    return resumed


def test_a_resumed_run_keeps_its_message_cap(
    use_database: str, short_lease: dict[str, str], tmp_path: Path
) -> None:
    """The cap counts what was said before the loss: no more messages than a run that was
    never interrupted."""
    team = tmp_path / "capped.yaml"
    team.write_text(
        "name: capped\ntype: round_robin\nagents: [writer, critic]\n"
        "termination:\n  max_messages: 9\n"
    )
    with FakeLLMServer(latency_s=0.4) as fake:
        proc, run_id = _owner(str(team), f"openai-compatible:m@{fake.url}")
        run = ba.get_run(run_id)
        _until(lambda: ba.get_run(run_id).record.last_seq >= 8)  # messages and a checkpoint
        said = len([e for e in run.events if isinstance(e, MessageEvent)])
        assert 1 < said < 9
        fake.latency_s = 0.0
        resumed = _kill_then_resume(proc, run_id)
    events = _gap_free(resumed)
    messages = [e for e in events if isinstance(e, MessageEvent)]
    assert len(messages) == 9  # the task and eight turns, across both attempts
    assert "Maximum number of messages 9 reached" in (resumed.record.stop_reason or "")


def test_a_run_lost_before_its_first_checkpoint_starts_again_without_a_second_task(
    use_database: str, short_lease: dict[str, str]
) -> None:
    """What an owner leaves when it dies while its team is still being built (a loaded
    worker): its status and task stored, no checkpoint. The run starts again from the
    beginning and says its task once."""
    from botarmy_nb import api
    from botarmy_nb.store.base import open_store
    from botarmy_nb.store.records import NewRun

    prepared = api.prepare("Write a wiki plan", max_turns=2)
    store, run_id = open_store(), "c" * 32
    store.create_run(
        NewRun(
            id=run_id,
            name="died-early",
            task=prepared.request.task,
            model=prepared.request.default_model,
            executor="local",
            team=prepared.team,
            spec=prepared.request.to_json(),
        )
    )
    assert store.claim_run(run_id, "gone", statuses=["queued"], lease_s=0.5) is not None
    store.append_events(
        [
            StatusEvent(run_id=run_id, seq=1, status="running"),
            MessageEvent(
                run_id=run_id, seq=2, agent="user", kind="task", content="Write a wiki plan"
            ),
        ],
        owner="gone",
    )
    run = ba.get_run(run_id)
    _until(lambda: run.status == "lost", 30)  # the lease ran out: a reader marks it lost
    resumed = ba.resume(run_id)
    resumed.wait(timeout=60)
    assert resumed.status == "completed", resumed.record.error
    events = _gap_free(resumed)
    tasks = [e for e in events if isinstance(e, MessageEvent) and e.kind == "task"]
    assert [t.seq for t in tasks] == [2]
    assert len([e for e in events if isinstance(e, MessageEvent) and e.agent != "user"]) == 2
