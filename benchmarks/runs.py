"""B1: whole runs in-process, stored in SQLite / PostgreSQL, against bare AutoGen."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from benchmarks._core import Figure, alternate, pg_available
from benchmarks.providers import replies

if TYPE_CHECKING:
    from benchmarks.__main__ import Context

MESSAGES = 21  # the task and 20 replies
TASK = "Write a short note."


async def bare_team_run(delay_s: float = 0.0, count: int = MESSAGES) -> int:
    """One bare AutoGen run: two replay agents, round robin, no storage."""
    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.conditions import MaxMessageTermination
    from autogen_agentchat.teams import RoundRobinGroupChat
    from autogen_ext.models.replay import ReplayChatCompletionClient

    from benchmarks.providers import SlowReplayClient

    per_agent = count // 2 + 1

    def client() -> ReplayChatCompletionClient:
        if delay_s:
            return SlowReplayClient(replies(per_agent), delay_s)
        return ReplayChatCompletionClient(replies(per_agent))

    agents = [AssistantAgent(n, model_client=client()) for n in ("alice", "bob")]
    team = RoundRobinGroupChat(agents, termination_condition=MaxMessageTermination(count))
    result = await team.run(task=TASK)
    return len(result.messages)


def bare_runs(runs: int) -> tuple[float, int]:
    async def main() -> int:
        total = 0
        for _ in range(runs):
            total += await bare_team_run()
        return total

    start = time.perf_counter()
    count = asyncio.run(main())
    return time.perf_counter() - start, count


def botarmy_runs(runs: int, team: str) -> tuple[float, int]:
    import botarmy_nb as ba

    start = time.perf_counter()
    handles = [ba.run(TASK, team=team, model="bench-replay:11").wait() for _ in range(runs)]
    elapsed = time.perf_counter() - start
    last = handles[-1]
    if last.status != "completed":
        raise RuntimeError(f"benchmark run ended {last.status}: {last.record.error}")
    return elapsed, len(last.messages)


def b1(ctx: Context) -> list[Figure]:
    """200 runs x 21 messages, one after another, each awaited (``ba.run().wait()``)."""
    env, runs = ctx.env, ctx.scale(200, 20)
    team = env.team("bench21", MESSAGES)
    figures = {
        "sqlite": Figure("B1", "runs in-process, SQLite", "s", "le", 1.15),
        "postgres": Figure("B1", "runs in-process, PostgreSQL", "s", "le", 1.25),
    }
    stores: dict[str, str | None] = {"sqlite": None}
    why = pg_available()
    if why:
        figures["postgres"].na = why
    else:
        stores["postgres"] = env.postgres()
    counts: dict[str, int] = {}

    def ours(kind: str) -> float:
        env.use(stores[kind])
        elapsed, counts[kind] = botarmy_runs(runs, team)
        return elapsed

    def base() -> float:
        elapsed, total = bare_runs(runs)
        counts["bare"] = total // runs
        return elapsed

    for kind in stores:  # warm up: imports, schema, the run thread, the writer
        env.use(stores[kind])
        botarmy_runs(2, team)
    bare_runs(2)
    sides = {"bare": base, **{k: (lambda k=k: ours(k)) for k in stores}}
    measured = alternate(ctx.rounds, sides)
    bare = min(measured["bare"])
    for kind in stores:
        fig = figures[kind]
        fig.ours, fig.baseline = min(measured[kind]), bare
        fig.details = {
            "runs": runs,
            "messages_per_run": counts[kind],
            "bare_messages_per_run": counts["bare"],
            "bare_messages_per_s": runs * counts["bare"] / bare,
            "rounds_s": {"ours": measured[kind], "bare": measured["bare"]},
            "ms_per_run_over_bare": (fig.ours - bare) / runs * 1000,
        }
    env.use(None)
    return list(figures.values())
