"""B10: how late a 1 ms ticker on the run loop gets while runs stream (with and without live
views) against bare AutoGen; B5: 100 concurrent runs against a slow fake OpenAI server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from benchmarks._core import ROOT, Env, Figure, alternate, percentile
from benchmarks.runs import TASK, bare_team_run

if TYPE_CHECKING:
    from benchmarks.__main__ import Context

TICK_S = 0.001
CALL_S = 0.02


async def _tick(stop: asyncio.Event, lags: list[float]) -> None:
    """Sleep 1 ms at a time; record how late each wake-up is (ms)."""
    clock = time.perf_counter
    while not stop.is_set():
        start = clock()
        await asyncio.sleep(TICK_S)
        lags.append((clock() - start - TICK_S) * 1000)


def b10_side(
    env: Env, *, views: bool = False, bare: bool = False, runs: int = 10, messages: int = 101
) -> list[float]:
    """The ticker's lateness (ms) while ``runs`` runs of ``messages`` messages stream at
    20 ms per model call: on the run thread's loop (ours) or one bare AutoGen loop."""
    lags: list[float] = []
    if bare:

        async def main() -> None:
            stop = asyncio.Event()
            ticker = asyncio.create_task(_tick(stop, lags))
            await asyncio.gather(*(bare_team_run(CALL_S, messages) for _ in range(runs)))
            stop.set()
            await ticker

        asyncio.run(main())
        return lags
    import botarmy_nb as ba
    from botarmy_nb.executors.local import get_local_executor

    team = env.team(f"bench{messages}", messages)
    loop = get_local_executor()._ensure_loop()  # the run thread's loop, where runs execute
    stop_box: list[asyncio.Event] = []

    async def start_ticker() -> None:
        stop_box.append(asyncio.Event())
        await _tick(stop_box[0], lags)

    ticker = asyncio.run_coroutine_threadsafe(start_ticker(), loop)
    model = f"bench-slow:{messages // 2 + 1}x{CALL_S}"
    handles = [ba.run(TASK, team=team, model=model) for _ in range(runs)]
    shown = []
    if views:
        from botarmy_nb.notebook.live import LiveView

        with recording_comms() as sent:
            shown = [LiveView(h).start() for h in handles]
            for h in handles:
                h.wait()
            _settle(sent)
    for h in handles:
        h.wait()
    loop.call_soon_threadsafe(stop_box[0].set)
    ticker.result(10)
    bad = [h.status for h in handles if h.status != "completed"]
    if bad:
        raise RuntimeError(f"B10 runs ended {bad}")
    del shown
    return lags


def _settle(sent: list[Any], quiet_s: float = 0.5, limit_s: float = 10.0) -> None:
    """Wait until no comm message was sent for ``quiet_s`` (views finish on their threads)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        count = len(sent)
        time.sleep(quiet_s)
        if len(sent) == count:
            return


@contextlib.contextmanager
def recording_comms() -> Iterator[list[tuple[float, str, int]]]:
    """Widgets' comms record (time, msg type, bytes) of every message instead of sending it
    to a front end: the bytes a kernel would put on the wire (JSON + binary buffers)."""
    import comm
    from comm.base_comm import BaseComm

    sent: list[tuple[float, str, int]] = []

    class RecordingComm(BaseComm):
        def publish_msg(
            self,
            msg_type: str,
            data: Any = None,
            metadata: Any = None,
            buffers: Any = None,
            **keys: Any,
        ) -> None:
            body = json.dumps(
                {"data": data or {}, "metadata": metadata or {}, "comm_id": self.comm_id, **keys},
                default=str,
            )
            size = len(body.encode()) + sum(len(memoryview(b).cast("B")) for b in buffers or [])
            sent.append((time.perf_counter(), msg_type, size))

    previous = comm.create_comm
    comm.create_comm = lambda *a, **k: RecordingComm(*a, **k)
    try:
        yield sent
    finally:
        comm.create_comm = previous


def b10(ctx: Context) -> list[Figure]:
    runs, messages = 10, ctx.scale(101, 21)
    sides = {
        "bare": lambda: b10_side(ctx.env, bare=True, runs=runs, messages=messages),
        "ours": lambda: b10_side(ctx.env, runs=runs, messages=messages),
        "views": lambda: b10_side(ctx.env, views=True, runs=runs, messages=messages),
    }
    b10_side(ctx.env, runs=2, messages=5)  # warm up
    b10_side(ctx.env, bare=True, runs=2, messages=5)
    detail: dict[str, Any] = {}
    p99s = alternate(
        ctx.rounds, {k: (lambda f=f, k=k: _p99(f(), detail, k)) for k, f in sides.items()}
    )
    bare = min(p99s["bare"])
    out = []
    for key, label in (("ours", "no views"), ("views", "10 live views")):
        out.append(
            Figure(
                "B10",
                f"run-loop lag p99, 10 runs, {label}",
                "ms",
                "diff",
                5.0,
                ours=min(p99s[key]),
                baseline=bare,
                details={
                    "p99_rounds_ms": p99s,
                    "runs": runs,
                    "messages": messages,
                    "call_s": CALL_S,
                    "last_round": detail,
                },
            )
        )
    return out


def _p99(lags: list[float], detail: dict[str, Any], key: str) -> float:
    p99 = percentile(lags, 99)
    detail[key] = {
        "ticks": len(lags),
        "p50_ms": percentile(lags, 50),
        "p99_ms": p99,
        "max_ms": max(lags) if lags else None,
    }
    return p99


# -- B5 -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def fake_llm(latency_s: float) -> Iterator[str]:
    """The tests' fake OpenAI server in its own process (its threads must not share our
    GIL); yields its base URL."""
    code = (
        "import socketserver, sys; sys.path.insert(0, sys.argv[2]);"
        # the default listen backlog (5) drops the SYNs of 100 runs connecting at once,
        # and each dropped SYN costs a 1 s retransmit: the server, not us
        "socketserver.TCPServer.request_queue_size = 1024;"
        "from fake_llm import FakeLLMServer;"
        "s = FakeLLMServer(latency_s=float(sys.argv[1])); s.__enter__();"
        "print(s.url, flush=True); sys.stdin.read()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(latency_s), str(ROOT / "tests")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError("the fake OpenAI server did not start")
        yield url
    finally:
        with contextlib.suppress(Exception):
            assert proc.stdin is not None
            proc.stdin.close()
        proc.terminate()
        proc.wait(10)


def concurrent_runs(count: int, team: str, model: str, executor: str = "local") -> float:
    import botarmy_nb as ba

    start = time.perf_counter()
    handles = [ba.run(TASK, team=team, model=model, executor=executor) for _ in range(count)]
    for h in handles:
        h.wait(timeout=600)
    elapsed = time.perf_counter() - start
    bad = {h.status for h in handles} - {"completed"}
    if bad:
        raise RuntimeError(f"B5 runs ended {bad}: {handles[0].record.error}")
    return elapsed


def b5(ctx: Context) -> list[Figure]:
    count, messages = ctx.scale(100, 5), ctx.scale(21, 3)
    team = ctx.env.team(f"bench{messages}", messages)
    fig = Figure("B5", f"{count} concurrent runs vs one, 200 ms/call, in-process", "s", "le", 1.5)
    with fake_llm(0.2) as url:
        model = f"openai-compatible:m@{url}"
        concurrent_runs(1, team, model)  # warm up: the client, the connection pool
        measured = alternate(
            ctx.rounds,
            {
                "one": lambda: concurrent_runs(1, team, model),
                "many": lambda: concurrent_runs(count, team, model),
            },
        )
    fig.ours, fig.baseline = min(measured["many"]), min(measured["one"])
    fig.details = {"runs": count, "messages": messages, "rounds_s": measured}
    from benchmarks import distributed

    return [fig, distributed.b5_worker(ctx, count, messages)]
