"""Profile one figure's measured part with py-spy (every thread, idle included), after the
warm-up, and print where each thread's time goes per run.

    python -m benchmarks.profile b1-sqlite|b1-postgres|b1-bare [--runs 200] [--out FILE]
    python -m benchmarks.profile summary FILE --per N [--only FRAME]

py-spy attaches to this process once the warm-up is done, so imports and schema creation
are not in the profile. The summary is inclusive time per frame, per thread, in ms/run.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

RATE = 250


def summarise(path: Path, per: float, *, top: int = 30, only: str | None = None) -> str:
    """Collapsed stacks → per thread: samples, and the frames with most inclusive time."""
    threads: collections.Counter[str] = collections.Counter()
    incl: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    leaf: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [re.sub(r":\d+\)", ")", f) for f in stack.split(";")]
        if only and not any(only in f for f in frames):
            continue
        n = int(count)
        threads[frames[0]] += n
        for frame in dict.fromkeys(frames[1:]):
            incl[frames[0]][frame] += n
        leaf[frames[0]][frames[-1]] += n
    out = []
    for thread, n in threads.most_common():
        out.append(f"== {thread}: {n / RATE / per * 1000:.2f} ms per run")
        for frame, c in incl[thread].most_common(top):
            out.append(f"   {c / RATE / per * 1000:8.2f}  {frame}")
        out.append("   -- leaves:")
        for frame, c in leaf[thread].most_common(8):
            out.append(f"   {c / RATE / per * 1000:8.2f}  {frame}")
    return "\n".join(out)


def _spy(out: Path) -> subprocess.Popen[bytes]:
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    cmd = [exe, "record", "--pid", str(os.getpid()), "--threads", "--idle", "-r", str(RATE)]
    proc = subprocess.Popen(
        [*cmd, "-f", "raw", "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    time.sleep(1.0)  # attached
    return proc


def profile(name: str, measured: Callable[[], None], out: Path) -> None:
    spy = _spy(out)
    start = time.perf_counter()
    measured()
    elapsed = time.perf_counter() - start
    spy.send_signal(signal.SIGINT)
    spy.wait(60)
    print(f"{name}: measured part {elapsed:.3f} s; profile in {out}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    parser.add_argument("target")
    parser.add_argument("file", nargs="?")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--per", type=float, default=1)
    parser.add_argument("--only", default=None)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.target == "summary":
        print(summarise(Path(args.file), args.per, top=args.top, only=args.only))
        return
    from benchmarks import providers, runs
    from benchmarks._core import Env

    env = Env()
    providers.register()
    out = args.out or Path(f"/tmp/profile-{args.target}.txt")
    try:
        team = env.team("bench21", runs.MESSAGES)
        if args.target == "b1-bare":
            runs.bare_runs(3)
            profile(args.target, lambda: runs.bare_runs(args.runs), out)
        elif args.target in ("b1-sqlite", "b1-postgres"):
            env.use(env.postgres() if args.target == "b1-postgres" else None)
            runs.botarmy_runs(3, team)
            profile(args.target, lambda: runs.botarmy_runs(args.runs, team), out)
        elif args.target.startswith("b10"):
            from benchmarks import loop

            views = args.target == "b10-views"
            bare = args.target == "b10-bare"
            loop.b10_side(env, views=views, bare=bare)  # warm up
            profile(args.target, lambda: loop.b10_side(env, views=views, bare=bare), out)
        else:
            raise SystemExit(f"unknown target {args.target}")
    finally:
        env.close()
    print(summarise(out, args.runs, top=args.top, only=args.only))


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
