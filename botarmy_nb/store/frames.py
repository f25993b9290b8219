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


_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime on SQLite (UTC)


def _utc(series: pd.Series) -> pd.Series:
    import pandas as pd

    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC")
    try:
        return pd.to_datetime(series, utc=True, format=_SQLITE_TIME)
    except ValueError:  # a value written without microseconds
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
    import pandas as pd

    for col in times:
        frame[col] = _utc(frame[col])
    for col in ints:
        frame[col] = frame[col].astype("int64")
    for col in floats:
        frame[col] = frame[col].astype("float64")
    for col in cats:
        frame[col] = frame[col].astype("category")
    for col in strs:
        if not pd.api.types.is_string_dtype(frame[col].dtype) or frame[col].dtype == object:
            frame[col] = frame[col].astype("str")
    for col in bools:
        frame[col] = frame[col].astype(bool)
    return frame


def _in_run_order(store: SqlRunStore, frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``run_name`` and put runs in creation order (rows arrive sorted by run id, seq).

    Sorting by run id and seq in SQL follows the primary key; the few runs are then put
    in creation order here, which is cheaper than joining and sorting every row in SQL.
    """
    import numpy as np
    import pandas as pd

    run_ids = frame["run_id"].astype("category")
    present = [str(r) for r in run_ids.cat.categories]
    runs = pd.DataFrame(
        [(r.id, r.name, r.created_at) for r in store.runs_by_id(present)],
        columns=["id", "name", "created_at"],
    ).sort_values(["created_at", "id"])
    rank = {run_id: i for i, run_id in enumerate(runs["id"])}
    names = dict(zip(runs["id"], runs["name"], strict=True))
    if len(present) > 1:
        order = run_ids.cat.rename_categories([rank[c] for c in present]).astype("int64")
        frame = frame.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)
        run_ids = frame["run_id"].astype("category")
    # categories in creation order, so groupby lists runs in the order they ran
    frame["run_id"] = run_ids.cat.reorder_categories(list(runs["id"]))
    frame.insert(
        1,
        "run_name",
        pd.Categorical(
            frame["run_id"].map(names).astype("str"), categories=list(dict.fromkeys(runs["name"]))
        ),
    )
    return frame


def messages_frame(store: SqlRunStore, run_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per message event, runs in creation order, each run in seq order."""
    sql = (
        "SELECT run_id, seq, created_at, agent, kind AS type, content FROM events "
        f"WHERE type = 'message'{_run_filter('run_id', run_ids)} ORDER BY run_id, seq"
    )
    frame = _typed(
        _fetch(store, sql),
        times=["created_at"],
        ints=["seq"],
        cats=["agent", "type"],
        strs=["content"],
    )
    return _in_run_order(store, frame)


def model_calls_frame(store: SqlRunStore, run_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per model call (retries and fallbacks included), in run then seq order."""
    sql = (
        "SELECT run_id, seq, created_at, agent, provider, model, prompt_tokens, "
        "completion_tokens, prompt_tokens + completion_tokens AS total_tokens, latency_s, "
        "ttft_s, cost_usd, status, error, cached FROM model_calls "
        f"WHERE 1 = 1{_run_filter('run_id', run_ids)} ORDER BY run_id, seq"
    )
    frame = _typed(
        _fetch(store, sql),
        times=["created_at"],
        ints=["seq"],
        floats=["latency_s", "ttft_s", "cost_usd"],
        cats=["agent", "provider", "model", "status"],
        strs=["error"],
        bools=["cached"],
    )
    for col in ("prompt_tokens", "completion_tokens", "total_tokens"):
        # nullable: a provider that sent no usage shows <NA>, never 0
        frame[col] = frame[col].astype("Int64")
    return _in_run_order(store, frame)


def artifacts_frame(store: SqlRunStore, run_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per artifact version, in run then seq order."""
    sql = (
        "SELECT run_id, seq, created_at, name, agent, template, format, path, "
        "length(content) AS size, content FROM artifacts "
        f"WHERE 1 = 1{_run_filter('run_id', run_ids)} ORDER BY run_id, seq"
    )
    frame = _typed(
        _fetch(store, sql),
        times=["created_at"],
        ints=["seq", "size"],
        cats=["agent", "format"],
        strs=["name", "template", "path", "content"],
    )
    return _in_run_order(store, frame)


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
