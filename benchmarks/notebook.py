"""B7: the first cell (``%load_ext``, the first ``%%botarmy``) and B8: the bytes a live view
sends while a run streams — both in a real IPython ``InteractiveShell`` in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks._core import ROOT, Figure

if TYPE_CHECKING:
    from benchmarks.__main__ import Context

FIRST_CELL = textwrap.dedent(
    """
    import json, sys, time
    start = time.perf_counter()
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shown = []
    publish = shell.display_pub.publish

    def recording(*args, **kwargs):
        shown.append(time.perf_counter())
        return publish(*args, **kwargs)

    shell.display_pub.publish = recording
    ipython_s = time.perf_counter() - start
    t = time.perf_counter()
    shell.run_line_magic("load_ext", "botarmy_nb")
    load_s = time.perf_counter() - t
    time.sleep(float(sys.argv[1]))
    t = time.perf_counter()
    shell.run_cell_magic("botarmy", "--team writers-room", "Write a haiku about tests")
    returned_s = time.perf_counter() - t
    view_s = shown[0] - t if shown else None
    run = shell.user_ns["_botarmy_run"]
    run.wait(120)
    print(json.dumps({"ipython_s": ipython_s, "load_s": load_s, "returned_s": returned_s,
                      "view_s": view_s, "status": run.status}))
    """
)

STREAM_VIEW = textwrap.dedent(
    """
    import json, sys, time
    from IPython.core.interactiveshell import InteractiveShell
    from benchmarks import providers
    from benchmarks.loop import recording_comms, _settle

    providers.register()
    shell = InteractiveShell.instance()
    shell.display_pub.publish = lambda *a, **k: None
    shell.run_line_magic("load_ext", "botarmy_nb")
    with recording_comms() as sent:
        start = time.perf_counter()
        shell.run_cell_magic("botarmy", f"--team {sys.argv[1]} --model bench-cycle", "Go")
        run = shell.user_ns["_botarmy_run"]
        run.wait(900)
        streamed_s = time.perf_counter() - start
        _settle(sent, quiet_s=1.0, limit_s=120)
    frame = run.messages
    print(json.dumps({
        "status": run.status,
        "messages": len(frame),
        "message_bytes": int(frame["content"].map(lambda s: len(str(s).encode())).sum()),
        "sent": sent,
        "streamed_s": streamed_s,
    }))
    """
)


def _python(code: str, *args: str, home: Path, timeout: float) -> dict[str, Any]:
    env = {
        **os.environ,
        "BOTARMY_HOME": str(home),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    for name in ("BOTARMY_DATABASE_URL", "BOTARMY_REDIS_URL", "BOTARMY_EXECUTOR"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(home),
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"subprocess failed ({done.returncode}): {done.stderr[-1500:]}")
    return json.loads(lines[-1])


def b7(ctx: Context) -> list[Figure]:
    """Every sample is a fresh process with a fresh BOTARMY_HOME: a new user's first cell."""
    samples: dict[str, list[dict[str, Any]]] = {"now": [], "later": []}
    for i in range(ctx.rounds):
        for key, wait in (("now", "0"), ("later", "3")):
            home = ctx.env.home / f"b7-{key}-{i}"
            home.mkdir()
            samples[key].append(_python(FIRST_CELL, wait, home=home, timeout=180))
    now, later = samples["now"], samples["later"]
    load = min(s["load_s"] for s in now + later) * 1000
    views = [s["view_s"] for s in now if s["view_s"] is not None]
    details = {"samples": samples, "ipython_startup_ms": min(s["ipython_s"] for s in now) * 1000}
    figs = [
        Figure("B7", "%load_ext botarmy_nb", "ms", "abs", 150, ours=load, details=details),
        Figure(
            "B7",
            "first %%botarmy shows its view",
            "ms",
            "abs",
            300,
            ours=min(views) * 1000 if views else None,
            details=details,
        ),
        Figure(
            "B7",
            "first %%botarmy returns, issued 3 s after %load_ext",
            "ms",
            "abs",
            200,
            ours=min(s["returned_s"] for s in later) * 1000,
            details=details,
        ),
    ]
    if not views:
        figs[1].na = "the cell displayed nothing"
    return figs


def b8(ctx: Context) -> list[Figure]:
    count = ctx.scale(10_000, 500)
    team = ctx.env.team(f"bench{count + 1}", count + 1)
    home = ctx.env.home / "b8"
    home.mkdir()
    got = _python(STREAM_VIEW, team, home=home, timeout=1200)
    sent = got.pop("sent")
    last: dict[int, int] = {}
    # the final static rendering (each widget's last update) is not counted
    updates = [i for i, (_, kind, _) in enumerate(sent) if kind == "comm_msg"]
    for i in updates[-2:]:
        last[i] = sent[i][2]
    live = sum(size for i, (_, _, size) in enumerate(sent) if i not in last)
    fig = Figure(
        "B8",
        f"live-view bytes, {count:,} messages into one view",
        "B",
        "le",
        2.0,
        ours=live,
        baseline=got["message_bytes"],
    )
    fig.details = {
        **got,
        "comm_messages": len(sent),
        "largest_message_bytes": max((s for _, _, s in sent), default=0),
        "final_rendering_bytes_excluded": sum(last.values()),
        "note": "messages streamed at the replay model's full speed (no model latency)",
    }
    if got["status"] != "completed" or got["messages"] < count:
        fig.na = f"the run ended {got['status']} with {got['messages']} messages"
    return [fig]
