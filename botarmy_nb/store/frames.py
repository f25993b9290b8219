"""Run data as pandas DataFrames: Arrow via ADBC on PostgreSQL, sqlite3 on SQLite."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botarmy_nb.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from botarmy_nb.store.sql import SqlRunStore

__all__ = ["artifacts_frame", "messages_frame", "model_calls_frame", "runs_frame"]

_ID = re.compile(r"^[0-9a-f]{32}$")


def _run_filter(column: str, run_ids: Sequence[str] | None) -> str:
    if run_ids is None:
        return ""
    ids = list(run_ids)
    bad = [r for r in ids if not _ID.match(r)]
    if bad:
        raise ConfigError(f"not run ids: {', '.join(map(repr, bad[:3]))}")
    if not ids:
        return " AND 1 = 0"
    # ids are validated hex strings, so inlining them is safe and driver-neutral
    return f" AND {column} IN ({', '.join(repr(i) for i in ids)})"


def _sqlite_fetch(store: SqlRunStore, sql: str) -> pd.DataFrame:
    """SQLite through the same sqlite3 library that writes (see docs/design.md: never ADBC)."""
    import pandas as pd

    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(sql)
        columns = [d[0] for d in cur.description]
        rows = cur.fetchall()
        cur.close()
    finally:
        raw.close()
    return pd.DataFrame.from_records(rows, columns=columns)


def _postgres_fetch(store: SqlRunStore, sql: str) -> pd.DataFrame:
    """PostgreSQL as Arrow through ADBC; pandas over SQLAlchemy if the driver is missing."""
    try:
        import adbc_driver_postgresql.dbapi as adbc
    except ImportError:
        import pandas as pd
        from sqlalchemy import text

        with store.engine.connect() as conn:
            return pd.read_sql(text(sql), conn)
    uri = store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with adbc.connect(uri) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetch_arrow_table().to_pandas()


def _fetch(store: SqlRunStore, sql: str) -> pd.DataFrame:
    if store.dialect == "sqlite":
        return _sqlite_fetch(store, sql)
    return _postgres_fetch(store, sql)


def _utc(series: pd.Series) -> pd.Series:
    import pandas as pd

    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC")
    return pd.to_datetime(series, utc=True, format="ISO8601")


def _typed(
    frame: pd.DataFrame,
    *,
    times: Sequence[str] = (),
    ints: Sequence[str] = (),
    floats: Sequence[str] = (),
    cats: Sequence[str] = (),
    strs: Sequence[str] = (),
    bools: Sequence[str] = (),
) -> pd.DataFrame:
    for col in times:
        frame[col] = _utc(frame[col])
    for col in ints:
        frame[col] = frame[col].astype("int64")
    for col in floats:
        frame[col] = frame[col].astype("float64")
    for col in cats:
        frame[col] = frame[col].astype("category")
    for col in strs:
        frame[col] = frame[col].astype("string")
    for col in bools:
        frame[col] = frame[col].astype(bool)
    return frame


def messages_frame(store: SqlRunStore, run_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per message event, in run then seq order."""
    kind = (
        "json_extract(e.payload, '$.kind')" if store.dialect == "sqlite" else "e.payload->>'kind'"
    )
    sql = (
        f"SELECT e.run_id, r.name AS run_name, e.seq, e.created_at, e.agent, {kind} AS type, "
        "e.content FROM events e JOIN runs r ON r.id = e.run_id "
        f"WHERE e.type = 'message'{_run_filter('e.run_id', run_ids)} "
        "ORDER BY r.created_at, e.run_id, e.seq"
    )
    return _typed(
        _fetch(store, sql),
        times=["created_at"],
        ints=["seq"],
        cats=["agent", "type", "run_name"],
        strs=["run_id", "content"],
    )


def model_calls_frame(store: SqlRunStore, run_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per model call (retries and fallbacks included), in run then seq order."""
    sql = (
        "SELECT m.run_id, r.name AS run_name, m.seq, m.created_at, m.agent, m.provider, m.model, "
        "m.prompt_tokens, m.completion_tokens, m.prompt_tokens + m.completion_tokens AS "
        "total_tokens, m.latency_s, m.ttft_s, m.cost_usd, m.status, m.error, m.cached "
        "FROM model_calls m JOIN runs r ON r.id = m.run_id "
        f"WHERE 1 = 1{_run_filter('m.run_id', run_ids)} ORDER BY r.created_at, m.run_id, m.seq"
    )
    return _typed(
        _fetch(store, sql),
        times=["created_at"],
        ints=["seq", "prompt_tokens", "completion_tokens", "total_tokens"],
        floats=["latency_s", "ttft_s", "cost_usd"],
        cats=["agent", "provider", "model", "status", "run_name"],
        strs=["run_id", "error"],
        bools=["cached"],
    )


def artifacts_frame(store: SqlRunStore, run_ids: Sequence[str] | None = None) -> pd.DataFrame:
    sql = (
        "SELECT a.run_id, r.name AS run_name, a.seq, a.created_at, a.name, a.agent, a.template, "
        "a.format, a.path, length(a.content) AS size, a.content "
        "FROM artifacts a JOIN runs r ON r.id = a.run_id "
        f"WHERE 1 = 1{_run_filter('a.run_id', run_ids)} ORDER BY r.created_at, a.run_id, a.seq"
    )
    return _typed(
        _fetch(store, sql),
        times=["created_at"],
        ints=["seq", "size"],
        cats=["agent", "format", "run_name"],
        strs=["run_id", "name", "template", "path", "content"],
    )


def runs_frame(store: SqlRunStore, **filters: Any) -> pd.DataFrame:
    """One row per run, oldest first."""
    import pandas as pd

    records = store.list_runs(**filters)
    columns = [
        "id",
        "name",
        "status",
        "team",
        "workflow",
        "template",
        "model",
        "executor",
        "task",
        "created_at",
        "started_at",
        "finished_at",
        "duration_s",
        "last_seq",
        "stop_reason",
        "error",
    ]
    rows = [{**r.model_dump(include=set(columns)), "duration_s": r.duration_s} for r in records]
    frame = pd.DataFrame(rows, columns=columns)
    frame = _typed(
        frame,
        times=["created_at", "started_at", "finished_at"],
        cats=["status", "executor"],
        floats=["duration_s"],
        strs=[
            "id",
            "name",
            "team",
            "workflow",
            "template",
            "model",
            "task",
            "stop_reason",
            "error",
        ],
    )
    frame["last_seq"] = frame["last_seq"].astype("int64")
    return frame
