"""The benchmark harness runs end to end (``python -m benchmarks --quick``) and writes every
figure to its JSON. A smoke check of the harness only: timings are never asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIGURES = {"B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9", "B10", "M1"}

pytestmark = [pytest.mark.benchmark_smoke, pytest.mark.timeout(240)]


def test_quick_harness_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTARMY_")}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=230,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["quick"] is True
    assert {"cores", "memory_bytes", "python", "packages"} <= set(result["machine"])
    figures = result["figures"]
    assert {f["id"] for f in figures} == FIGURES
    for f in figures:
        # measured, or n/a with the reason — never an empty row
        assert (f["ours"] is not None) or f["na"], f
        assert {"name", "baseline", "ratio", "target", "met", "details"} <= set(f)


def test_the_cli_runs_the_same_harness() -> None:
    """``botarmy-nb bench`` is ``python -m benchmarks``: same options, same refusals."""
    from click.testing import CliRunner

    from botarmy_nb.cli import main

    result = CliRunner().invoke(main, ["bench", "--only", "B99"])
    assert result.exit_code == 2
    assert "unknown figures ['B99']; known: B1" in result.output
