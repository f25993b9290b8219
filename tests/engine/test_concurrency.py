"""Ordinary concurrency: many runs at once on one store, and two processes on one SQLite
file — every run completes, with gap-free events (issue #7, item 1)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fake_llm import FakeLLMServer

import botarmy_nb as ba


def _assert_complete_and_gap_free(run: ba.Run) -> None:
    record = run.record
    assert record.status == "completed", (record.status, record.error)
    seqs = [e.seq for e in run.events]
    assert seqs == list(range(1, len(seqs) + 1)) and seqs[-1] == record.last_seq
    assert run.events[1].type == "message" and run.events[1].kind == "task"


@pytest.mark.parametrize("team", ["writers-room", "planning-room"])
def test_fifty_concurrent_runs_on_a_slow_server_all_complete(use_database: str, team: str) -> None:
    with FakeLLMServer(latency_s=0.02) as fake:
        model = f"openai-compatible:m@{fake.url}"
        runs = [ba.run(f"Write note {i}", team=team, model=model) for i in range(50)]
        for run in runs:
            run.wait(timeout=120)
    for run in runs:
        _assert_complete_and_gap_free(run)


SCRIPT = textwrap.dedent(
    """
    import sys
    import botarmy_nb as ba

    runs = [ba.run(f"Note {i} from {sys.argv[1]}", team="writers-room") for i in range(20)]
    for run in runs:
        run.wait(timeout=180)
    print(",".join(run.status for run in runs))
    """
)


def test_two_processes_share_one_sqlite_file(botarmy_home: Path) -> None:
    env = {**os.environ, "BOTARMY_HOME": str(botarmy_home)}
    ba.runs()  # create the schema once, as the first notebook would
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, name],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-2000:]
        assert out.strip().split(",") == ["completed"] * 20, err[-2000:]
    frame = ba.runs()
    assert len(frame) == 40 and set(frame["status"]) == {"completed"}
    for run_id in frame["id"]:
        _assert_complete_and_gap_free(ba.get_run(run_id))
