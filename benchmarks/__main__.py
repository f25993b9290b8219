"""``python -m benchmarks [--quick] [--only B1,B2] [--rounds N] [--json PATH]``

Runs the speed figures of issue #12, each against a baseline measured in the same run
(sides alternate for ``--rounds`` rounds; the best round of each side is kept), prints
the table and writes ``benchmarks/results/latest.json`` with the machine it ran on.
``--quick`` uses small sizes: a smoke check of the harness, not a measurement.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks._core import ROOT, Env, Figure, machine, quiet_logs, table

DEFAULT_JSON = ROOT / "benchmarks" / "results" / "latest.json"


@dataclass
class Context:
    env: Env
    quick: bool
    rounds: int

    def scale(self, full: int, quick: int) -> int:
        return quick if self.quick else full


Group = Callable[[Context], list[Figure]]


def _groups() -> dict[str, tuple[str, Group]]:
    """Figure id → (what it measures, the function measuring it), in running order."""
    from benchmarks import distributed, frames, loop, notebook, runs, writes

    return {
        "B1": ("runs in-process vs bare AutoGen", runs.b1),
        "B2": ("event writes, PostgreSQL", writes.b2),
        "B6": ("frames vs raw fetch", frames.b6),
        "B10": ("run-loop lag", loop.b10),
        "B5": ("100 concurrent runs", loop.b5),
        "B7": ("first cell", notebook.b7),
        "B8": ("live-view bytes", notebook.b8),
        "B3": ("worker → viewer latency", distributed.b3),
        "B4": ("runs through Celery", distributed.b4),
        "B9": ("enqueue → first event", distributed.b9),
        "M1": ("worker RSS", distributed.m1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke check)")
    parser.add_argument("--only", default="", help="comma-separated figure ids, e.g. B1,B2")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per figure")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where results go")
    args = parser.parse_args(argv)
    groups = _groups()
    only = [g.strip().upper() for g in args.only.split(",") if g.strip()]
    unknown = [g for g in only if g not in groups]
    if unknown:
        parser.error(f"unknown figures {unknown}; known: {', '.join(groups)}")
    chosen = only or list(groups)
    rounds = args.rounds or (1 if args.quick else 3)
    sys.path.insert(0, str(ROOT / "tests"))  # the fake OpenAI server lives with the tests
    env = Env()
    ctx = Context(env=env, quick=args.quick, rounds=rounds)
    # a terminated harness still drops its databases and stops its workers
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from benchmarks import providers

    providers.register()
    figures: list[Figure] = []
    started = datetime.now(UTC)
    try:
        for gid in chosen:
            what, group = groups[gid]
            print(f"[{gid}] {what} …", file=sys.stderr, flush=True)
            start = time.perf_counter()
            try:
                with quiet_logs():
                    got = group(ctx)
            except Exception as exc:
                traceback.print_exc()
                got = [Figure(gid, what, "s", "abs", 0, na=f"error: {type(exc).__name__}: {exc}")]
            for fig in got:
                fig.details.setdefault("group_wall_s", round(time.perf_counter() - start, 1))
            figures.extend(got)
            print(table(got), file=sys.stderr, flush=True)
    finally:
        env.close()
    print(table(figures))
    result = {
        "started_at": started.isoformat(),
        "wall_s": round((datetime.now(UTC) - started).total_seconds(), 1),
        "quick": args.quick,
        "rounds": rounds,
        "machine": machine(),
        "figures": [f.to_json() for f in figures],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nwritten: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
