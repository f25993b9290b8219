"""PostgreSQL's fast event path: COPY into ``events``, idempotent through a staging table."""

from __future__ import annotations

from typing import Any

from pydantic_core import to_json
from sqlalchemy import Connection

__all__ = ["COPY_MIN_ROWS", "copy_events"]

COPY_MIN_ROWS = 200  # below this, one multi-row INSERT beats COPY's extra round trips
_EVENT_COLUMNS = ("run_id", "seq", "type", "kind", "agent", "content", "payload", "created_at")


def copy_events(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """COPY straight into events; if some rows exist already (a retried batch), COPY into
    a staging table and move them with one ``INSERT … ON CONFLICT DO NOTHING`` instead."""
    import psycopg

    fairy = conn.connection
    raw = fairy.driver_connection
    columns = ", ".join(_EVENT_COLUMNS)
    values = [
        [to_json(row[c]).decode() if c == "payload" else row[c] for c in _EVENT_COLUMNS]
        for row in rows
    ]
    try:
        # raw.transaction() is a savepoint inside the caller's transaction
        with (
            raw.transaction(),
            raw.cursor() as cur,
            cur.copy(f"COPY events ({columns}) FROM STDIN") as copy,
        ):
            for value in values:
                copy.write_row(value)
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
            for value in values:
                copy.write_row(value)
        cur.execute(
            f"INSERT INTO events ({columns}) SELECT {columns} FROM events_stage "
            "ON CONFLICT DO NOTHING"
        )
        cur.execute("DELETE FROM events_stage")
