"""PostgreSQL's fast event path: COPY into ``events``, idempotent through a staging table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from botarmy_nb.events import Event
from botarmy_nb.store.rows import EVENT_COLUMNS, event_copy_row

__all__ = ["COPY_MIN_ROWS", "copy_events"]

COPY_MIN_ROWS = 200  # below this, a pipelined INSERT beats COPY's extra round trips


def _stream(copy: Any, events: Sequence[Event]) -> None:
    # each row is made inside the loop, not in a list before it: psycopg sends every
    # filled buffer as it goes, so the server applies one while the next is being made,
    # and no row outlives its write (200,000 rows held at once cost two full passes of
    # the garbage collector, ≈ 0.3 s)
    write_row = copy.write_row
    for event in events:
        write_row(event_copy_row(event))


def copy_events(conn: Connection, events: Sequence[Event]) -> None:
    """COPY straight into events; if some rows exist already (a retried batch), COPY into
    a staging table and move them with one ``INSERT … ON CONFLICT DO NOTHING`` instead.

    The run's existence is checked once per statement by a trigger, not per row by a
    foreign key (migration 0003, docs/design.md)."""
    import psycopg
    from sqlalchemy.exc import DBAPIError

    columns = ", ".join(EVENT_COLUMNS)
    statement = f"COPY events ({columns}) FROM STDIN"
    try:
        _copy(conn, events, statement, columns)
    except psycopg.Error as exc:
        # as SQLAlchemy would have raised it: the store's transaction turns it into a
        # StoreError, transient or not (a refused run, a dropped connection)
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc


def _copy(conn: Connection, events: Sequence[Event], statement: str, columns: str) -> None:
    import psycopg

    fairy = conn.connection
    raw = fairy.driver_connection
    try:
        # raw.transaction() is a savepoint inside the caller's transaction
        with raw.transaction(), raw.cursor() as cur, cur.copy(statement) as copy:
            _stream(copy, events)
        return
    except psycopg.errors.UniqueViolation:
        pass  # a retried batch: fall through to the idempotent path
    with raw.cursor() as cur:
        if not fairy.info.get("events_stage"):
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS events_stage (LIKE events) ON COMMIT DELETE ROWS"
            )
            fairy.info["events_stage"] = True
        with cur.copy(f"COPY events_stage ({columns}) FROM STDIN") as copy:
            _stream(copy, events)
        cur.execute(
            f"INSERT INTO events ({columns}) SELECT {columns} FROM events_stage "
            "ON CONFLICT DO NOTHING"
        )
        cur.execute("DELETE FROM events_stage")
