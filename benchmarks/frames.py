"""B6: run data into pandas — ``ba.messages()`` / ``ba.model_calls()`` against the raw
fetch floor (ADBC Arrow on PostgreSQL, sqlite3 on SQLite) and ``pd.read_sql``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from benchmarks._core import REPLIES, Figure, alternate, pg_available, plain_pg

if TYPE_CHECKING:
    import pandas as pd

    from benchmarks.__main__ import Context

MESSAGES_SQL = (
    "SELECT run_id, seq, created_at, agent, kind, content FROM events WHERE type = 'message'"
)
CALLS_SQL = (
    "SELECT run_id, seq, created_at, agent, provider, model, prompt_tokens, completion_tokens, "
    "latency_s, ttft_s, cost_usd, status, error, cached FROM model_calls"
)
RUNS = 100
FILTER_RUNS = 10  # run_ids= picks this many of the runs


def _batches(run_id: str, messages: int, calls: int, size: int = 5000) -> Iterator[list[Any]]:
    """A run's events: messages, with a model call before every (messages/calls)-th one."""
    from botarmy_nb.events import MessageEvent, ModelCallEvent

    every = max(1, messages // calls) if calls else 0
    seq, batch, made_calls = 0, [], 0
    for m in range(messages):
        agent = ("alice", "bob")[m % 2]
        if every and m % every == 0 and made_calls < calls:
            seq += 1
            made_calls += 1
            batch.append(
                ModelCallEvent(
                    run_id=run_id,
                    seq=seq,
                    agent=agent,
                    provider="openai",
                    model="gpt-4o-mini",
                    prompt_tokens=100 + m % 50,
                    completion_tokens=20 + m % 10,
                    latency_s=0.2,
                    cost_usd=0.0001,
                )
            )
        seq += 1
        batch.append(MessageEvent(run_id=run_id, seq=seq, agent=agent, content=REPLIES[m % 10]))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def fill(store: Any, messages: int, calls: int) -> list[str]:
    from botarmy_nb.store.records import NewRun

    ids = []
    for _ in range(RUNS):
        run_id = uuid.uuid4().hex
        store.create_run(NewRun(id=run_id, name="bench", task="t", model="scripted"))
        for batch in _batches(run_id, messages // RUNS, calls // RUNS):
            store.append_events(batch)
        ids.append(run_id)
    return ids


def _sqlite_floor(path: str, sql: str) -> Callable[[], pd.DataFrame]:
    def fetch() -> pd.DataFrame:
        import sqlite3

        import pandas as pd

        conn = sqlite3.connect(path)
        try:
            cur = conn.execute(sql)
            columns = [d[0] for d in cur.description]
            return pd.DataFrame.from_records(cur.fetchall(), columns=columns)
        finally:
            conn.close()

    return fetch


def _adbc_floor(url: str, sql: str) -> Callable[[], pd.DataFrame]:
    def fetch() -> pd.DataFrame:
        import adbc_driver_postgresql.dbapi as adbc

        with adbc.connect(plain_pg(url)) as conn, conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetch_arrow_table().to_pandas()

    return fetch


def _read_sql(engine: Any, sql: str) -> Callable[[], pd.DataFrame]:
    def fetch() -> pd.DataFrame:
        import pandas as pd
        from sqlalchemy import text

        with engine.connect() as conn:
            return pd.read_sql(text(sql), conn)

    return fetch


def _clock(fn: Callable[[], Any], rows: list[int]) -> Callable[[], float]:
    def side() -> float:
        start = time.perf_counter()
        frame = fn()
        elapsed = time.perf_counter() - start
        rows.append(len(frame))
        return elapsed

    return side


def _backend(ctx: Context, label: str, url: str | None, figures: list[Figure]) -> None:
    from sqlalchemy import create_engine

    import botarmy_nb as ba
    from botarmy_nb.store.base import open_store

    env = ctx.env
    messages, calls = ctx.scale(1_000_000, 10_000), ctx.scale(200_000, 1_000)
    env.use(url)
    store = open_store(url or env.sqlite_url)
    start = time.perf_counter()
    ids = fill(store, messages, calls)
    filled_s = time.perf_counter() - start
    pg = url is not None
    picked = ids[:FILTER_RUNS]
    in_ids = ", ".join(f"'{i}'" for i in picked)

    def floor(sql: str) -> Callable[[], pd.DataFrame]:
        return _adbc_floor(url, sql) if pg else _sqlite_floor(str(env.sqlite_path), sql)

    engine = create_engine(url or env.sqlite_url)
    kinds = {
        "messages": (lambda: ba.messages(), MESSAGES_SQL, messages),
        "model_calls": (lambda: ba.model_calls(), CALLS_SQL, calls),
        "messages agent=": (
            lambda: ba.messages(agent="alice"),
            MESSAGES_SQL + " AND agent = 'alice'",
            messages // 2,
        ),
        "messages run_ids=": (
            lambda: ba.messages(run_ids=picked),
            MESSAGES_SQL + f" AND run_id IN ({in_ids})",
            messages * FILTER_RUNS // RUNS,
        ),
    }
    probe = _probe_calls(ids[0], floor, calls // RUNS, label, pg)
    if probe is not None:  # too slow to measure at full size within the harness's budget
        figures.append(probe)
        full = Figure("B6", f"model_calls {calls:,} rows, {label}", "s", "le", 1.5)
        full.na = probe.details["why"]
        figures.append(full)
        del kinds["model_calls"]
    for kind, (ours_fn, sql, expected) in kinds.items():
        counts: dict[str, list[int]] = {"ours": [], "floor": [], "read_sql": []}
        sides = {
            "floor": _clock(floor(sql), counts["floor"]),
            "ours": _clock(ours_fn, counts["ours"]),
        }
        with_read_sql = pg and kind in ("messages", "model_calls")
        if with_read_sql:
            sides["read_sql"] = _clock(_read_sql(engine, sql), counts["read_sql"])
        if not ctx.quick:
            sides["ours"]()  # warm up (imports, connections)
        measured = alternate(ctx.rounds, sides)
        size = f"{expected:,}" if expected < 1_000_000 else f"{expected / 1e6:g}M"
        fig = Figure(
            "B6",
            f"{kind} {size} rows, {label}, vs {'ADBC' if pg else 'sqlite3'}",
            "s",
            "le",
            1.5,
            ours=min(measured["ours"]),
            baseline=min(measured["floor"]),
        )
        fig.details = {
            "rows": {k: v[-1] for k, v in counts.items() if v},
            "rounds_s": measured,
            "fill_s": filled_s,
            "floor_sql": sql,
        }
        if set(counts["ours"]) != {expected} or set(counts["floor"]) != {expected}:
            fig.details["row_count_mismatch"] = True
        figures.append(fig)
        if with_read_sql:
            figures.append(
                Figure(
                    "B6",
                    f"{kind} {size} rows, {label}, vs pd.read_sql (>= 5x faster)",
                    "s",
                    "le",
                    0.2,
                    ours=min(measured["ours"]),
                    baseline=min(measured["read_sql"]),
                    details={"rounds_s": measured},
                )
            )
    engine.dispose()
    env.use(None)


BUDGET_S = 60.0  # the longest one ba.model_calls() may take at full size


def _probe_calls(
    run_id: str, floor: Callable[[str], Callable[[], Any]], rows: int, label: str, pg: bool
) -> Figure | None:
    """Time ``ba.model_calls`` on one run first; if the full size would blow the budget,
    return that one-run figure (measured, against the same WHERE) instead."""
    import botarmy_nb as ba

    start = time.perf_counter()
    ba.model_calls(run_ids=[run_id])
    took = time.perf_counter() - start
    if took * RUNS <= BUDGET_S:
        return None
    sql = CALLS_SQL + f" WHERE run_id = '{run_id}'"
    base = min(_clock(floor(sql), [])() for _ in range(3))
    ours = min(took, _clock(lambda: ba.model_calls(run_ids=[run_id]), [])())
    why = (
        f"not measured: ba.model_calls() of one run ({rows:,} rows) took {took:.1f} s, so "
        f"{RUNS} runs would take over {took * RUNS:.0f} s (see docs/benchmarks.md, B6)"
    )
    return Figure(
        "B6",
        f"model_calls {rows:,} rows (one run), {label}, vs {'ADBC' if pg else 'sqlite3'}",
        "s",
        "le",
        1.5,
        ours=ours,
        baseline=base,
        details={"why": why, "floor_sql": sql},
    )


def b6(ctx: Context) -> list[Figure]:
    figures: list[Figure] = []
    _backend(ctx, "SQLite", None, figures)
    why = pg_available()
    if why:
        for kind in ("messages", "model_calls", "messages agent=", "messages run_ids="):
            figures.append(Figure("B6", f"{kind}, PostgreSQL", "s", "le", 1.5, na=why))
    else:
        _backend(ctx, "PostgreSQL", ctx.env.postgres(), figures)
    return figures
