"""B2: the store's event writes into PostgreSQL against a plain COPY of the same rows."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from benchmarks._core import REPLIES, Figure, alternate, pg_available, plain_pg

if TYPE_CHECKING:
    from benchmarks.__main__ import Context

BATCH = 5000  # rows per transaction, on both sides

# The floor table: the events columns, logged, with only the key idempotent writes need
# (DESIGN §6) — no foreign key, no other index. Not TEMP: a temp table is unlogged.
FLOOR_DDL = (
    "CREATE TABLE copy_floor (LIKE events INCLUDING DEFAULTS); "
    "ALTER TABLE copy_floor ADD PRIMARY KEY (run_id, seq)"
)
COLUMNS = ("run_id", "seq", "type", "kind", "agent", "content", "payload", "created_at")


def _events(run_id: str, rows: int) -> list[Any]:
    from botarmy_nb.events import MessageEvent

    return [
        MessageEvent(run_id=run_id, seq=s, agent=("alice", "bob")[s % 2], content=REPLIES[s % 10])
        for s in range(1, rows + 1)
    ]


def b2(ctx: Context) -> list[Figure]:
    fig = Figure("B2", "event writes, PostgreSQL", "rows/s", "ge", 0.5)
    why = pg_available()
    if why:
        fig.na = why
        return [fig]
    import json

    import psycopg

    from botarmy_nb.store.base import open_store
    from botarmy_nb.store.records import NewRun
    from botarmy_nb.store.rows import event_row

    rows = ctx.scale(200_000, 20_000)
    url = ctx.env.postgres()
    store = open_store(url)
    store.list_runs()  # the schema
    with psycopg.connect(plain_pg(url), autocommit=True) as conn:
        conn.execute(FLOOR_DDL)

    def fresh() -> tuple[str, list[Any]]:
        run_id = uuid.uuid4().hex
        store.create_run(NewRun(id=run_id, name="bench", task="t", model="scripted"))
        return run_id, _events(run_id, rows)

    def ours() -> float:
        _, events = fresh()
        start = time.perf_counter()
        for i in range(0, rows, BATCH):
            store.append_events(events[i : i + BATCH])
        return time.perf_counter() - start

    def floor() -> float:
        _, events = fresh()
        # the same rows, as the store would write them, built (JSON text ready) before the
        # clock starts: the floor is the server and the wire, nothing of ours
        values = []
        for e in events:
            row = event_row(e)
            values.append([json.dumps(row[c]) if c == "payload" else row[c] for c in COLUMNS])
        with psycopg.connect(plain_pg(url)) as conn:
            start = time.perf_counter()
            for i in range(0, rows, BATCH):
                with (
                    conn.cursor() as cur,
                    cur.copy(f"COPY copy_floor ({', '.join(COLUMNS)}) FROM STDIN") as copy,
                ):
                    for value in values[i : i + BATCH]:
                        copy.write_row(value)
                conn.commit()
            return time.perf_counter() - start

    ours()  # warm up: the COPY path, prepared connections
    floor()
    measured = alternate(ctx.rounds, {"floor": floor, "ours": ours})
    fig.ours = rows / min(measured["ours"])
    fig.baseline = rows / min(measured["floor"])
    fig.details = {
        "rows": rows,
        "batch": BATCH,
        "rounds_s": measured,
        "floor": "COPY into a logged table with only PRIMARY KEY (run_id, seq), same batches",
    }
    return [fig]
