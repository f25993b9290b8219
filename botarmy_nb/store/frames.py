"""Run data as pandas DataFrames: Arrow via ADBC on PostgreSQL, sqlite3 on SQLite.

Every frame is one SQLAlchemy Core ``SELECT`` whose ``WHERE`` carries the caller's
filters (see :class:`Filters`), compiled for the store's dialect and executed outside
SQLAlchemy's pool by the fastest reader of that database (docs/design.md). Columns are
typed here: UTC timestamps, nullable ``Int64`` counts (unknown stays ``<NA>``, never 0),
categoricals for repeated labels. The columns are documented in docs/data.md.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from botarmy_nb.errors import ConfigError
from botarmy_nb.events import RUN_STATUSES
from botarmy_nb.store.schema import ArtifactRow, EventRow, HitlRequestRow, ModelCallRow, RunRow

if TYPE_CHECKING:
    import pandas as pd

    from botarmy_nb.store.records import RunRecord
    from botarmy_nb.store.sql import SqlRunStore

__all__ = [
    "FRAMES",
    "Filters",
    "artifacts_frame",
    "compile_query",
    "hitl_frame",
    "messages_frame",
    "model_calls_frame",
    "runs_frame",
    "steps_frame",
]

_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Filters:
    """What a frame keeps, all pushed down to SQL. ``None`` means "no condition".

    Run-level filters (``run_ids``, ``team``, ``workflow``, ``template``, ``run_status``,
    ``run_name``, ``tags``) keep the rows of matching runs; ``since``/``until`` bound the
    row's own ``created_at`` (inclusive, exclusive); ``columns`` holds equality filters on
    the frame's own columns (a list means "any of"), e.g. ``{"agent": ["pm", "qa"]}``.
    """

    run_ids: Sequence[str] | None = None
    team: Any = None
    workflow: Any = None
    template: Any = None
    run_status: Any = None
    run_name: Any = None
    tags: dict[str, str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    columns: dict[str, Any] = field(default_factory=dict)

    def runs_only(self) -> Filters:
        """The run-level part (for reading the step boundaries of the same runs)."""
        return Filters(
            run_ids=self.run_ids,
            team=self.team,
            workflow=self.workflow,
            template=self.template,
            run_status=self.run_status,
            run_name=self.run_name,
            tags=self.tags,
        )


def _match(column: Any, value: Any) -> ColumnElement[bool]:
    """``column = value``, ``IN`` for a list, ``IS NULL`` for None."""
    if value is None:
        return column.is_(None)
    if isinstance(value, list | tuple | set | frozenset):
        values = list(value)
        if not values:
            return literal(False)
        if None in values:
            rest = [v for v in values if v is not None]
            return or_(column.is_(None), column.in_(rest)) if rest else column.is_(None)
        return column.in_(values)
    return column == value


def _checked_ids(run_ids: Sequence[str]) -> list[str]:
    ids = list(run_ids)
    bad = [r for r in ids if not isinstance(r, str) or not _ID.match(r)]
    if bad:
        raise ConfigError(f"not run ids: {', '.join(map(repr, bad[:3]))}")
    return ids


def _run_conditions(filters: Filters) -> list[ColumnElement[bool]]:
    """Conditions on the ``runs`` table."""
    where: list[ColumnElement[bool]] = []
    if filters.run_ids is not None:
        where.append(_match(RunRow.id, _checked_ids(filters.run_ids)))
    for name, column in (
        ("team", RunRow.team),
        ("workflow", RunRow.workflow),
        ("template", RunRow.template),
        ("run_name", RunRow.name),
    ):
        value = getattr(filters, name)
        if value is not None:
            where.append(_match(column, value))
    if filters.run_status is not None:
        wanted = filters.run_status
        for status in wanted if isinstance(wanted, list | tuple | set) else [wanted]:
            if status not in RUN_STATUSES:
                raise ConfigError(
                    f"unknown run status '{status}'; choose one of {', '.join(RUN_STATUSES)}"
                )
        where.append(_match(RunRow.status, wanted))
    for key, value in (filters.tags or {}).items():
        where.append(_match(RunRow.tags[str(key)].as_string(), _as_text(value)))
    return where


def _as_text(value: Any) -> Any:
    if isinstance(value, list | tuple | set):
        return [str(v) for v in value]
    return None if value is None else str(value)


def _row_conditions(
    table: Any, filters: Filters, pushable: dict[str, Any]
) -> list[ColumnElement[bool]]:
    """Conditions for a child table (events, model_calls…): its run, time and columns."""
    where = []
    run_level = _run_conditions(dataclasses.replace(filters.runs_only(), run_ids=None))
    if filters.run_ids is not None:
        where.append(_match(table.run_id, _checked_ids(filters.run_ids)))
    if run_level:
        where.append(table.run_id.in_(select(RunRow.id).where(*run_level)))
    where += _time_conditions(table.created_at, filters)
    for name, value in filters.columns.items():
        where.append(_match(pushable[name], value))
    return where


def _time_conditions(column: Any, filters: Filters) -> list[ColumnElement[bool]]:
    where = []
    if filters.since is not None:
        where.append(column >= filters.since)
    if filters.until is not None:
        where.append(column < filters.until)
    return where


# -- the frames' SQL ---------------------------------------------------------------------

_E, _M, _A, _H = EventRow, ModelCallRow, ArtifactRow, HitlRequestRow


def _payload(key: str) -> Any:
    return _E.payload[key].as_string()


class _ReadTime(FunctionElement[Any]):
    """A row's time as the fast readers fetch it: the column itself on PostgreSQL (Arrow
    carries it typed), integer microseconds since 1970 on SQLite, where the stored text
    would cost a Python string per row and a parse in pandas (see :func:`_utc`)."""

    inherit_cache = True
    name = "read_time"


@compiles(_ReadTime)
def _read_time(element: _ReadTime, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_ReadTime, "sqlite")
def _read_time_sqlite(element: _ReadTime, compiler: Any, **kw: Any) -> str:
    import sqlite3

    text = compiler.process(element.clauses, **kw)
    # SQLAlchemy stores 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC); the padding makes a shorter
    # fraction read right ('…:05.5' → 500000 µs), a value without one has none
    seconds = (
        f"unixepoch({text})"
        if sqlite3.sqlite_version_info >= (3, 38)
        else f"CAST(strftime('%s', {text}) AS INTEGER)"
    )
    micros = (
        f"CASE WHEN substr({text}, 20, 1) = '.' "
        f"THEN CAST(substr({text} || '00000', 21, 6) AS INTEGER) ELSE 0 END"
    )
    return f"({seconds} * 1000000 + {micros})"


def _created(table: Any) -> Any:
    return _ReadTime(table.created_at).label("created_at")


# Columns each frame can filter on in SQL (any other column of the frame is filtered in
# pandas after the read: derived ones such as run_name, step or attempt).
PUSHABLE: dict[str, dict[str, Any]] = {
    "runs": {
        "id": RunRow.id,
        "name": RunRow.name,
        "status": RunRow.status,
        "team": RunRow.team,
        "workflow": RunRow.workflow,
        "template": RunRow.template,
        "model": RunRow.model,
        "executor": RunRow.executor,
        "queue": RunRow.queue,
        "priority": RunRow.priority,
        "stop_reason": RunRow.stop_reason,
    },
    "messages": {"seq": _E.seq, "agent": _E.agent, "type": _E.kind, "model": _payload("model")},
    "model_calls": {
        "seq": _M.seq,
        "agent": _M.agent,
        "provider": _M.provider,
        "model": _M.model,
        "status": _M.status,
        "cached": _M.cached,
        "error": _M.error,
    },
    "artifacts": {
        "seq": _A.seq,
        "name": _A.name,
        "agent": _A.agent,
        "template": _A.template,
        "format": _A.format,
    },
    "steps": {"agent": _E.agent, "label": _payload("label")},
    "hitl": {"request_id": _H.id, "agent": _H.agent, "status": _H.status, "seq": _H.seq},
}


def runs_query(filters: Filters) -> Select[Any]:
    where = _run_conditions(filters) + _time_conditions(RunRow.created_at, filters)
    where += [_match(PUSHABLE["runs"][k], v) for k, v in filters.columns.items()]
    return (
        select(
            RunRow.id,
            RunRow.name,
            RunRow.status,
            RunRow.team,
            RunRow.workflow,
            RunRow.template,
            RunRow.model,
            RunRow.executor,
            RunRow.task,
            RunRow.created_at,
            RunRow.started_at,
            RunRow.finished_at,
            RunRow.heartbeat_at,
            RunRow.last_seq,
            RunRow.stop_reason,
            RunRow.error,
            RunRow.attempts,
            RunRow.queue,
            RunRow.priority,
            RunRow.tags,
            RunRow.variables,
        )
        .where(*where)
        .order_by(RunRow.created_at, RunRow.id)
    )


def messages_query(filters: Filters) -> Select[Any]:
    return select(
        _E.run_id,
        _E.seq,
        _created(_E),
        _E.agent,
        _E.kind.label("type"),
        _E.content,
        _payload("model").label("model"),
    ).where(_E.type == "message", *_row_conditions(_E, filters, PUSHABLE["messages"]))


def model_calls_query(filters: Filters) -> Select[Any]:
    return select(
        _M.run_id,
        _M.seq,
        _created(_M),
        _M.agent,
        _M.provider,
        _M.model,
        _M.prompt_tokens,
        _M.completion_tokens,
        (_M.prompt_tokens + _M.completion_tokens).label("total_tokens"),
        _M.latency_s,
        _M.ttft_s,
        _M.cost_usd,
        _M.status,
        _M.error,
        _M.cached,
    ).where(*_row_conditions(_M, filters, PUSHABLE["model_calls"]))


def artifacts_query(filters: Filters) -> Select[Any]:
    from sqlalchemy import func

    return select(
        _A.run_id,
        _A.seq,
        _created(_A),
        _A.name,
        _A.agent,
        _A.template,
        _A.format,
        _A.path,
        func.length(_A.content).label("size"),
        _A.content,
    ).where(*_row_conditions(_A, filters, PUSHABLE["artifacts"]))


def step_events_query(filters: Filters) -> Select[Any]:
    return (
        select(
            _E.run_id,
            _E.seq,
            _E.created_at,
            _E.agent,
            _E.kind.label("phase"),
            _payload("step").label("step"),
            _payload("label").label("label"),
            _payload("artifact").label("artifact"),
            _payload("reason").label("reason"),
        )
        .where(_E.type == "step", *_row_conditions(_E, filters, PUSHABLE["steps"]))
        .order_by(_E.run_id, _E.seq)
    )


def hitl_query(filters: Filters) -> Select[Any]:
    return select(
        _H.run_id,
        _H.id.label("request_id"),
        _H.seq,
        _created(_H),
        _H.agent,
        _H.prompt,
        _H.options,
        _H.response,
        _H.status,
        _H.answered_at,
        _H.expires_at,
    ).where(*_row_conditions(_H, filters, PUSHABLE["hitl"]))


# -- executing ---------------------------------------------------------------------------


def compile_query(
    query: Select[Any], dialect_name: str, *, inline: bool = False
) -> tuple[str, list[Any]]:
    """The SQL text and positional parameters the fast readers execute (``?`` for
    sqlite3, ``$1`` for ADBC), with each value converted as SQLAlchemy would store it.

    ``inline`` (PostgreSQL) renders the values into the text instead, quoted by
    SQLAlchemy for ``standard_conforming_strings`` (which the reader sets): ADBC runs a
    statement without parameters as a binary ``COPY``, one with parameters as a
    prepared statement whose rows come slower (≈ 0.3 s more per million rows).
    """
    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.exc import CompileError

    if dialect_name == "sqlite":
        dialect: Any = sqlite.dialect(paramstyle="qmark")
    else:
        dialect = postgresql.dialect(paramstyle="numeric_dollar")
    if inline and dialect_name != "sqlite":
        try:
            kwargs = {"render_postcompile": True, "literal_binds": True}
            return str(query.compile(dialect=dialect, compile_kwargs=kwargs)), []
        except CompileError:  # a value SQLAlchemy cannot render: send it as a parameter
            pass
    compiled = query.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    values = []
    for name in compiled.positiontup or []:
        value = params[name]
        bind = compiled.binds.get(name)
        if bind is not None and value is not None:
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                value = process(value)
        values.append(value)
    return compiled.string, values


def _sqlite_fetch(store: SqlRunStore, sql: str, params: list[Any]) -> pd.DataFrame:
    """SQLite through the same sqlite3 library that writes (see docs/design.md: never ADBC)."""
    import pandas as pd

    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(sql, params)
        columns = [d[0] for d in cur.description]
        rows = cur.fetchall()
        cur.close()
    finally:
        raw.close()
    return pd.DataFrame.from_records(rows, columns=columns)


def _postgres_fetch(store: SqlRunStore, sql: str, params: list[Any]) -> pd.DataFrame:
    """PostgreSQL as Arrow through ADBC; pandas over SQLAlchemy if the driver is missing."""
    if importlib.util.find_spec("adbc_driver_postgresql") is None:
        import pandas as pd

        with store.engine.connect() as conn:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cursor.execute("SET standard_conforming_strings = on")
            if params:
                cursor.execute(re.sub(r"\$(\d+)", "%s", sql), params)
            else:
                cursor.execute(sql)
            columns = [d[0] for d in cursor.description]
            return pd.DataFrame.from_records(cursor.fetchall(), columns=columns)
    # serial scans (store/arrow.py) return the rows in the order they were written, which is
    # nearly always the frame's order (see _in_run_order)
    with store.arrow_readers().connection() as conn, conn.cursor() as cur:
        cur.execute(sql, parameters=params or None)
        return cur.fetch_arrow_table().to_pandas()


# Tests replace this to see the statements the frames send (the readers bypass
# SQLAlchemy's engine, so its cursor events never see them).
statement_hook: Callable[[str, list[Any]], None] | None = None


def fetch(store: SqlRunStore, query: Select[Any]) -> pd.DataFrame:
    """Run a frame's query on the store's fast reader."""
    sql, params = compile_query(query, store.dialect, inline=store.dialect == "postgresql")
    if statement_hook is not None:
        statement_hook(sql, params)
    if store.dialect == "sqlite":
        return _sqlite_fetch(store, sql, params)
    return _postgres_fetch(store, sql, params)


# -- typing ------------------------------------------------------------------------------

_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime on SQLite (UTC)


def _utc(series: pd.Series) -> pd.Series:
    import pandas as pd

    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    if pd.api.types.is_numeric_dtype(series.dtype):  # microseconds (``_ReadTime``)
        return pd.to_datetime(series, unit="us", utc=True).astype("datetime64[us, UTC]")
    try:
        parsed = pd.to_datetime(series, utc=True, format=_SQLITE_TIME)
    except ValueError:  # a value written without microseconds
        parsed = pd.to_datetime(series, utc=True, format="ISO8601")
    return parsed.astype("datetime64[us, UTC]")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _typed(
    frame: pd.DataFrame,
    *,
    times: Sequence[str] = (),
    ints: Sequence[str] = (),
    nullable_ints: Sequence[str] = (),
    floats: Sequence[str] = (),
    cats: Sequence[str] = (),
    strs: Sequence[str] = (),
    bools: Sequence[str] = (),
    jsons: Sequence[str] = (),
) -> pd.DataFrame:
    import pandas as pd

    for col in times:
        frame[col] = _utc(frame[col])
    for col in ints:
        frame[col] = frame[col].astype("int64")
    for col in nullable_ints:
        frame[col] = pd.to_numeric(frame[col]).astype("Int64")
    for col in floats:
        frame[col] = frame[col].astype("float64")
    for col in strs:
        frame[col] = frame[col].astype("str")
    for col in cats:
        frame[col] = frame[col].astype("str").astype("category")
    for col in bools:
        frame[col] = frame[col].astype(bool)
    for col in jsons:
        frame[col] = frame[col].map(_json).astype(object)
    return frame


def _in_run_order(
    store: SqlRunStore, frame: pd.DataFrame, records: list[RunRecord] | None = None
) -> pd.DataFrame:
    """Put runs in creation order, each run in seq order, and add ``run_name``.

    The queries carry no ``ORDER BY``: sorting a million rows in the database costs more
    (PostgreSQL spills it to disk) than checking here that rows, which come back in the
    order they were written nearly always, are in order — and sorting them when not.
    ``run_id`` and ``run_name`` become categoricals in run creation order, built from
    codes, so ``groupby`` lists runs in the order they ran.
    """
    import numpy as np
    import pandas as pd

    run_ids = frame["run_id"]
    if not isinstance(run_ids.dtype, pd.CategoricalDtype):
        run_ids = run_ids.astype("str").astype("category")
    present = [str(c) for c in run_ids.cat.categories]
    if records is None:
        records = store.runs_by_id(present)
    runs = sorted(records, key=lambda r: (r.created_at, r.id))
    rank_of = {r.id: i for i, r in enumerate(runs)}
    # each row's run rank, through the category codes (one lookup per run, not per row)
    rank = np.array([rank_of[c] for c in present], dtype=np.int64)[run_ids.cat.codes.to_numpy()]
    key = (rank << 32) | frame["seq"].to_numpy(dtype=np.int64)  # seq is a 32-bit column
    if len(key) > 1 and not bool((key[1:] >= key[:-1]).all()):
        order = np.argsort(key, kind="stable")
        frame = frame.take(order).reset_index(drop=True)
        rank = rank[order]
    frame["run_id"] = pd.Categorical.from_codes(rank, categories=[r.id for r in runs])
    names = {name: i for i, name in enumerate(dict.fromkeys(r.name for r in runs))}
    name_of_rank = np.array([names[r.name] for r in runs], dtype=np.int64)
    frame.insert(
        1, "run_name", pd.Categorical.from_codes(name_of_rank[rank], categories=list(names))
    )
    return frame


def _with_step(
    store: SqlRunStore, frame: pd.DataFrame, records: list[RunRecord], *, column: str = "step"
) -> pd.DataFrame:
    """Add the workflow step each row happened in (its parent step), ``<NA>`` outside
    any step and in team runs: the last step started before the row's seq and not yet
    finished or skipped. Only the step events of the frame's workflow runs are read."""
    import pandas as pd

    frame[column] = pd.Series(pd.NA, index=frame.index, dtype="Int64")
    stepped = [r.id for r in records if r.workflow or r.template]
    if frame.empty or not stepped:
        return frame
    bounds = fetch(store, step_events_query(Filters(run_ids=stepped)))
    if bounds.empty:
        return frame
    bounds["run_id"] = bounds["run_id"].astype("str")
    open_step = pd.to_numeric(bounds["step"]).astype("Int64").where(bounds["phase"] == "started")
    marks = pd.DataFrame(
        {"run_id": bounds["run_id"], "seq": bounds["seq"].astype("int64"), column: open_step}
    ).sort_values("seq")
    rows = pd.DataFrame(
        {"run_id": frame["run_id"].astype("str"), "seq": frame["seq"].astype("int64")}
    )
    rows["_pos"] = range(len(rows))
    merged = pd.merge_asof(
        rows.sort_values("seq"),
        marks,
        on="seq",
        by="run_id",
        direction="backward",
        allow_exact_matches=False,
    ).sort_values("_pos")
    frame[column] = merged[column].astype("Int64").to_numpy()
    return frame


# -- the frames --------------------------------------------------------------------------


def _finish(
    store: SqlRunStore, frame: pd.DataFrame, filters: Filters, *, step: bool = True
) -> pd.DataFrame:
    frame["run_id"] = frame["run_id"].astype("str").astype("category")
    records = store.runs_by_id([str(c) for c in frame["run_id"].cat.categories])
    frame = _in_run_order(store, frame, records)
    if step:
        frame = _with_step(store, frame, records)
    return frame


def messages_frame(
    store: SqlRunStore, run_ids: Sequence[str] | None = None, filters: Filters | None = None
) -> pd.DataFrame:
    """One row per message event, runs in creation order, each run in seq order."""
    filters = _merge(filters, run_ids)
    frame = _typed(
        fetch(store, messages_query(filters)),
        times=["created_at"],
        ints=["seq"],
        cats=["agent", "type", "model"],
        strs=["content"],
    )
    return _finish(store, frame, filters)


def model_calls_frame(
    store: SqlRunStore, run_ids: Sequence[str] | None = None, filters: Filters | None = None
) -> pd.DataFrame:
    """One row per model call (retries and fallbacks included), in run then seq order."""
    filters = _merge(filters, run_ids)
    frame = _typed(
        fetch(store, model_calls_query(filters)),
        times=["created_at"],
        ints=["seq"],
        # nullable: a provider that sent no usage shows <NA>, never 0
        nullable_ints=["prompt_tokens", "completion_tokens", "total_tokens"],
        floats=["latency_s", "ttft_s", "cost_usd"],
        cats=["agent", "provider", "model", "status"],
        strs=["error"],
        bools=["cached"],
    )
    frame = _finish(store, frame, filters)
    return _with_attempts(frame)


def _with_attempts(frame: pd.DataFrame) -> pd.DataFrame:
    """Derive ``attempt`` (1, 2… on one model) and ``fallback_position`` (0 = the first
    model of the agent's chain) from the order of each agent's call statuses: an ``ok``,
    ``error`` or ``cancelled`` call ends a request, a ``fallback`` moves down the chain.

    Vectorised over the rows of each (run, agent) put side by side (a stable sort keeps
    their seq order): a count restarts where its group starts. Grouped pandas
    ``shift``/``cumsum`` computed the same in ~5× the time; a Python lambda per group
    cost ~3 ms per call."""
    import numpy as np
    import pandas as pd

    if frame.empty:
        frame["attempt"] = pd.array([], dtype="Int64")
        frame["fallback_position"] = pd.array([], dtype="Int64")
        return frame
    run = frame["run_id"].astype("category").cat.codes.to_numpy().astype(np.int64)
    agent = frame["agent"].astype("category").cat.codes.to_numpy().astype(np.int64)
    status = frame["status"]
    group = run * (int(agent.max()) + 2) + agent + 1  # a missing agent (-1) is a group too
    order = np.argsort(group, kind="stable")
    group = group[order]
    ended = status.isin(["ok", "error", "cancelled"]).to_numpy()[order].astype(np.int64)
    moved = (status == "fallback").to_numpy()[order].astype(np.int64)

    def starts(*keys: Any) -> Any:
        edge = np.zeros(len(group), dtype=bool)
        edge[0] = True
        for key in keys:
            edge[1:] |= key[1:] != key[:-1]
        return edge

    def before(counted: Any, edge: Any) -> Any:
        """How many rows of the group before this one are ``counted``."""
        prior = np.cumsum(counted) - counted  # non-decreasing
        return prior - np.maximum.accumulate(np.where(edge, prior, 0))

    request = before(ended, starts(group))
    position = before(moved, starts(group, request))
    index = np.arange(len(group))
    first = np.maximum.accumulate(np.where(starts(group, request, position), index, 0))
    attempt = np.empty(len(group), dtype=np.int64)
    fallback = np.empty(len(group), dtype=np.int64)
    attempt[order] = index - first + 1
    fallback[order] = position
    frame["attempt"] = pd.array(attempt, dtype="Int64")
    frame["fallback_position"] = pd.array(fallback, dtype="Int64")
    return frame


def artifacts_frame(
    store: SqlRunStore, run_ids: Sequence[str] | None = None, filters: Filters | None = None
) -> pd.DataFrame:
    """One row per artifact version, in run then seq order."""
    filters = _merge(filters, run_ids)
    frame = _typed(
        fetch(store, artifacts_query(filters)),
        times=["created_at"],
        ints=["seq", "size"],
        cats=["agent", "format"],
        strs=["name", "template", "path", "content"],
    )
    return _finish(store, frame, filters)


STEP_COLUMNS = [
    "run_id",
    "step",
    "label",
    "agent",
    "status",
    "started_at",
    "finished_at",
    "duration_s",
    "start_seq",
    "end_seq",
    "artifact",
    "reason",
]


def steps_frame(
    store: SqlRunStore, run_ids: Sequence[str] | None = None, filters: Filters | None = None
) -> pd.DataFrame:
    """One row per workflow step execution: started → finished or skipped (``running``
    while neither came)."""
    import pandas as pd

    filters = _merge(filters, run_ids)
    bounds = fetch(store, step_events_query(filters))
    rows: list[dict[str, Any]] = []
    open_rows: dict[tuple[str, int], dict[str, Any]] = {}
    for b in bounds.itertuples(index=False):
        key = (str(b.run_id), int(b.step))
        if b.phase == "started":
            row = {
                "run_id": key[0],
                "step": key[1],
                "label": b.label,
                "agent": b.agent,
                "status": "running",
                "started_at": b.created_at,
                "finished_at": None,
                "start_seq": b.seq,
                "end_seq": None,
                "artifact": None,
                "reason": None,
            }
            rows.append(row)
            open_rows[key] = row
            continue
        row = open_rows.pop(key, None)
        if row is None:  # skipped without starting
            row = {
                "run_id": key[0],
                "step": key[1],
                "label": b.label,
                "agent": b.agent,
                "started_at": b.created_at,
                "start_seq": b.seq,
            }
            rows.append(row)
        row.update(
            status=b.phase,
            finished_at=b.created_at,
            end_seq=b.seq,
            artifact=b.artifact,
            reason=b.reason,
        )
    frame = pd.DataFrame(rows, columns=[c for c in STEP_COLUMNS if c != "duration_s"])
    frame = _typed(
        frame,
        times=["started_at", "finished_at"],
        nullable_ints=["step", "start_seq", "end_seq"],
        cats=["agent", "status"],
        strs=["label", "artifact", "reason"],
    )
    frame.insert(7, "duration_s", (frame["finished_at"] - frame["started_at"]).dt.total_seconds())
    frame = frame.rename(columns={"start_seq": "seq"})
    frame = _in_run_order(store, frame)
    return frame.rename(columns={"seq": "start_seq"})


def hitl_frame(
    store: SqlRunStore, run_ids: Sequence[str] | None = None, filters: Filters | None = None
) -> pd.DataFrame:
    """One row per human-in-the-loop request, with its answer when there is one."""
    filters = _merge(filters, run_ids)
    frame = _typed(
        fetch(store, hitl_query(filters)),
        times=["created_at", "answered_at", "expires_at"],
        ints=["seq"],
        cats=["agent", "status"],
        strs=["request_id", "prompt", "response"],
        jsons=["options"],
    )
    frame["options"] = frame["options"].map(
        lambda o: list(o.get("options", [])) if isinstance(o, dict) else o
    )
    frame["wait_s"] = (frame["answered_at"] - frame["created_at"]).dt.total_seconds()
    return _in_run_order(store, frame)


RUN_COLUMNS = [
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
    "attempts",
    "queue",
    "priority",
    "tags",
    "variables",
]


def runs_frame(store: SqlRunStore, filters: Filters | None = None, **legacy: Any) -> pd.DataFrame:
    """One row per run, oldest first. Runs whose owner stopped heart-beating are marked
    ``lost`` first, as every reader of runs does."""
    if legacy:  # runs_frame(store, status=..., name=...) from before Filters
        columns = {k: v for k, v in legacy.items() if k in ("status", "name")}
        filters = Filters(columns=columns)
    filters = filters or Filters()
    store.expire_leases()
    frame = fetch(store, runs_query(filters))
    frame = _typed(
        frame,
        times=["created_at", "started_at", "finished_at", "heartbeat_at"],
        ints=["last_seq"],
        nullable_ints=["attempts", "priority"],
        cats=["status", "executor"],
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
            "queue",
        ],
        jsons=["tags", "variables"],
    )
    frame["tags"] = frame["tags"].map(lambda t: t if isinstance(t, dict) else {})
    end = frame["finished_at"].fillna(frame["heartbeat_at"])
    frame["duration_s"] = (end - frame["started_at"]).dt.total_seconds()
    return frame[RUN_COLUMNS]


def _merge(filters: Filters | None, run_ids: Sequence[str] | None) -> Filters:
    filters = filters or Filters()
    if run_ids is None:
        return filters
    ids = list(run_ids)
    if filters.run_ids is not None:
        ids = [i for i in ids if i in set(filters.run_ids)]
    return dataclasses.replace(filters, run_ids=ids)


FRAMES: dict[str, Callable[..., pd.DataFrame]] = {
    "runs": runs_frame,
    "messages": messages_frame,
    "model_calls": model_calls_frame,
    "artifacts": artifacts_frame,
    "steps": steps_frame,
    "hitl": hitl_frame,
}
