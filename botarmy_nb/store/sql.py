"""The SQLAlchemy run store (SQLite, PostgreSQL): runs, batched idempotent event writes,
leases that find dead owners, artifacts and checkpoints."""

from __future__ import annotations

import contextlib
import functools
import re
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, and_, bindparam, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from botarmy_nb.errors import NotFoundError, OwnershipLostError, StoreError
from botarmy_nb.events import (
    RUN_STATUSES,
    ArtifactEvent,
    Event,
    HitlRequestEvent,
    HitlResponseEvent,
    ModelCallEvent,
    StatusEvent,
    parse_event,
    utcnow,
)
from botarmy_nb.store.arrow import ArrowReaders
from botarmy_nb.store.base import LeaseState, close_stores, open_store, register_store
from botarmy_nb.store.database import create_store_engine, safe_url
from botarmy_nb.store.migrate import check_schema
from botarmy_nb.store.pgcopy import COPY_MIN_ROWS, copy_events
from botarmy_nb.store.records import ArtifactRecord, CheckpointRecord, NewRun, RunRecord
from botarmy_nb.store.rows import artifact_row, aware, clean, event_row, model_call_row
from botarmy_nb.store.schema import (
    ArtifactRow,
    CheckpointRow,
    EventRow,
    HitlRequestRow,
    ModelCallRow,
    RunRow,
)

__all__ = ["SqlRunStore", "close_stores", "is_transient", "open_store"]

T = TypeVar("T")
_RUN_ID = re.compile(r"^[0-9a-f]{1,32}$")
_RUNS = RunRow.__table__
_DATES = ("created_at", "started_at", "finished_at", "heartbeat_at", "lease_expires_at")


def _run_record(row: Any) -> RunRecord:
    data = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    for key in _DATES:
        data[key] = aware(data.get(key))
    data["tags"] = data.get("tags") or {}
    return RunRecord.model_validate(data)


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else repr(exc)


_SQLITE_TRANSIENT = ("locked", "busy", "unable to open", "disk i/o")


def is_transient(exc: BaseException) -> bool:
    """Whether a database error may pass if retried: a lock held by another writer, a
    dropped or killed connection, a server restarting. Schema and data errors are not."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(exc, StoreError):
        return exc.__cause__ is not None and is_transient(exc.__cause__)
    if isinstance(exc, TimeoutError | ConnectionError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    orig = exc.orig
    if type(orig).__module__.startswith("sqlite3"):
        return any(word in str(orig).lower() for word in _SQLITE_TRANSIENT)
    code = getattr(orig, "sqlstate", None) or ""
    return not code.startswith("42")  # 42xxx: syntax or undefined objects — a real bug


def _retrying(method: Callable[..., T]) -> Callable[..., T]:
    """Retry a store call that met a transient error (a killed connection, a lock) a few
    times before giving up: one dropped connection must not fail a user's call."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        for delay in (0.05, 0.2, 0.5):
            try:
                return method(*args, **kwargs)
            except StoreError as exc:
                if not is_transient(exc):
                    raise
            time.sleep(delay)
        return method(*args, **kwargs)

    return wrapper


@functools.cache
def _run_write(keys: tuple[str, ...], *, fenced: bool, seq: bool) -> Any:
    """The (cached) UPDATE a batch opens with: set ``keys`` (bound as ``v_<key>``), raise
    ``last_seq`` to ``f_top`` if ``seq``, and — ``fenced`` — only while ``f_owner`` owns the
    running run. Built once per shape: every batch of every run executes it."""
    stmt = update(_RUNS).where(_RUNS.c.id == bindparam("f_id"))
    if fenced:
        stmt = stmt.where(_RUNS.c.worker == bindparam("f_owner"), _RUNS.c.status == "running")
    values: dict[str, Any] = {k: bindparam(f"v_{k}", type_=_RUNS.c[k].type) for k in keys}
    if seq:
        top = bindparam("f_top", type_=_RUNS.c.last_seq.type)
        values["last_seq"] = case((_RUNS.c.last_seq < top, top), else_=_RUNS.c.last_seq)
    return stmt.values(**values)


def _expired(now: datetime, lease_s: float) -> Any:
    """SQL: a running run whose lease ran out (or, for rows without one, whose last sign
    of life is older than a lease)."""
    last_seen = RunRow.heartbeat_at
    return and_(
        RunRow.status == "running",
        or_(
            RunRow.lease_expires_at < now,
            and_(RunRow.lease_expires_at.is_(None), last_seen < now - timedelta(seconds=lease_s)),
        ),
    )


def _lost(run_id: str) -> None:
    raise OwnershipLostError(
        f"run {run_id[:8]} is no longer owned by this process (marked lost or taken over "
        "elsewhere); stopping without writing"
    )


@contextlib.contextmanager
def _pipelined(conn: Connection, wanted: bool) -> Iterator[Callable[[], None] | None]:
    """On PostgreSQL (psycopg), send the statements of the block in pipeline mode: queued,
    not each awaited. Yields ``sync``, which waits for all of them to have run (and raises
    the first one's error); row counts are valid after it. Elsewhere yields None and
    statements run one by one as usual.

    A batch is about seven round trips one after another (BEGIN, the fenced UPDATE, the
    inserts, the checkpoint, COMMIT); pipelined it is two: the statements, then COMMIT.
    """
    pg = wanted and conn.dialect.name == "postgresql"
    raw = conn.connection.driver_connection if pg else None
    if raw is None or not hasattr(raw, "pipeline"):
        yield None
        return
    from sqlalchemy.exc import DBAPIError

    dbapi = conn.dialect.loaded_dbapi

    def sync() -> None:
        try:
            pipeline.sync()
        except dbapi.Error as exc:  # raised here, outside SQLAlchemy: wrap it as it would
            raise DBAPIError.instance(None, None, exc, dbapi.Error) from exc

    try:
        with raw.pipeline() as pipeline:
            yield sync
    except dbapi.Error as exc:
        raise DBAPIError.instance(None, None, exc, dbapi.Error) from exc


class SqlRunStore:
    """The run store on SQLite or PostgreSQL; every method returns pydantic records."""

    def __init__(self, engine: Engine, *, lease_s: float = 10.0) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.lease_s = lease_s
        self._inserts: dict[type[Any], Any] = {}
        self._readers: ArrowReaders | None = None

    @property
    def url(self) -> str:
        """The database URL with its password hidden."""
        return safe_url(self.engine.url)

    def close(self) -> None:
        if self._readers is not None:
            self._readers.close()
        self.engine.dispose()

    def arrow_readers(self) -> ArrowReaders:
        """The ADBC connections the frames read PostgreSQL with (made on first use)."""
        if self._readers is None:
            url = self.engine.url.set(drivername="postgresql")
            self._readers = ArrowReaders(url.render_as_string(hide_password=False))
        return self._readers

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A Core connection in one transaction; database errors become StoreError."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"run store {self.url}: {_reason(exc)}") from exc

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reads only (no commit round trip)."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"run store {self.url}: {_reason(exc)}") from exc

    def _insert(self, table: type[Any]) -> Any:
        # Core inserts on the Table, not the ORM class: one executemany, not a row per call
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        return insert(table.__table__)

    # -- runs -------------------------------------------------------------------------------

    @_retrying
    def create_run(self, new: NewRun) -> RunRecord:
        record = RunRecord(**new.model_dump(), created_at=utcnow(), last_seq=0)
        row = record.model_dump(exclude={"duration_s"})
        row.update(task=clean(row["task"]), name=clean(row["name"]), spec=clean(row["spec"]))
        with self.transaction() as conn:
            conn.execute(_RUNS.insert(), [row])
        return record

    @_retrying
    def update_run(self, run_id: str, **fields: Any) -> None:
        with self.transaction() as conn:
            conn.execute(update(RunRow).where(RunRow.id == run_id).values(**fields))

    def _select_runs(self, conn: Connection, *where: Any, order: Any = None) -> list[RunRecord]:
        query = select(_RUNS).where(*where)
        if order is not None:
            query = query.order_by(order)
        return [_run_record(r) for r in conn.execute(query)]

    @_retrying
    def find_runs(self, ref: str) -> list[RunRecord]:
        """Every run ``ref`` can mean: an exact id, else an id prefix, else a name."""
        with self.reading() as conn:
            if _RUN_ID.match(ref):
                found = self._select_runs(conn, RunRow.id == ref)
                if found:
                    return found
                found = self._select_runs(conn, RunRow.id.startswith(ref), order=RunRow.created_at)
                if found:
                    return found
            return self._select_runs(conn, RunRow.name == ref, order=RunRow.created_at)

    def get_run(self, ref: str, *, expire: bool = True) -> RunRecord:
        """A run by id, unique id prefix, or name (the newest run of that name). A running
        run whose owner stopped heart-beating is marked ``lost`` on the way (unless
        ``expire`` is False: its owner reading its own run)."""
        found = self.find_runs(ref)
        if not found:
            raise NotFoundError(f"no run '{ref}' in {self.url} (see `%botarmy runs`)")
        if len(found) > 1 and _RUN_ID.match(ref) and all(r.id.startswith(ref) for r in found):
            raise NotFoundError(f"run id prefix '{ref}' is ambiguous: give more of it")
        record = found[-1]
        if (
            expire
            and record.status == "running"
            and self._lease_expired(record)
            and self.expire_leases(record.id)
        ):
            return self.find_runs(record.id)[0]
        return record

    def _lease_expired(self, record: RunRecord) -> bool:
        now = utcnow()
        if record.lease_expires_at is not None:
            return record.lease_expires_at < now
        seen = record.heartbeat_at or record.started_at or record.created_at
        return seen < now - timedelta(seconds=self.lease_s)

    @_retrying
    def runs_by_id(self, run_ids: Sequence[str]) -> list[RunRecord]:
        """The runs with these exact ids (any order)."""
        if not run_ids:
            return []
        with self.reading() as conn:
            return self._select_runs(conn, RunRow.id.in_(list(run_ids)))

    @_retrying
    def list_runs(
        self, *, status: str | None = None, name: str | None = None, limit: int | None = None
    ) -> list[RunRecord]:
        """Runs, oldest first (the newest ``limit`` when given); lost owners are found first."""
        if status is not None and status not in RUN_STATUSES:
            from botarmy_nb.errors import ConfigError

            raise ConfigError(f"unknown status '{status}'; choose one of {', '.join(RUN_STATUSES)}")
        self.expire_leases()
        query = select(_RUNS).order_by(RunRow.created_at)
        if status:
            query = query.where(RunRow.status == status)
        if name:
            query = query.where(RunRow.name == name)
        if limit:
            query = query.order_by(None).order_by(RunRow.created_at.desc()).limit(limit)
        with self.reading() as conn:
            rows = [_run_record(r) for r in conn.execute(query)]
        return sorted(rows, key=lambda r: r.created_at)

    # -- lifecycle: claims, leases, cancels ---------------------------------------------------

    def _take_over(self, run_id: str, statuses: Sequence[str], **values: Any) -> RunRecord | None:
        """One conditional transaction: set ``values`` on a run whose status is one of
        ``statuses`` or that is ``running`` with an expired lease; None if another process
        holds it. The run's last outcome is cleared: it starts over."""
        now = utcnow()
        allowed = or_(RunRow.status.in_(list(statuses)), _expired(now, self.lease_s))
        cleared = {"finished_at": None, "error": None, "stop_reason": None}
        with self.transaction() as conn:
            result = conn.execute(
                update(RunRow)
                .where(RunRow.id == run_id, allowed)
                .values(**cleared, cancel_requested=None, **values)
            )
            if result.rowcount != 1:
                return None
            return self._select_runs(conn, RunRow.id == run_id)[0]

    @_retrying
    def claim_run(
        self, run_id: str, owner: str, *, statuses: Sequence[str], lease_s: float
    ) -> RunRecord | None:
        """Become the run's only owner if its status is one of ``statuses`` (or it is
        ``running`` with an expired lease); None if another process holds it."""
        now = utcnow()
        return self._take_over(
            run_id,
            statuses,
            status="running",
            worker=owner,
            started_at=func.coalesce(RunRow.started_at, now),
            heartbeat_at=now,
            lease_expires_at=now + timedelta(seconds=lease_s),
            attempts=RunRow.attempts + 1,
        )

    @_retrying
    def requeue_run(
        self,
        run_id: str,
        *,
        statuses: Sequence[str],
        executor: str,
        reset_attempts: bool = False,
    ) -> RunRecord | None:
        """Put a run nobody executes back in the queue for ``executor``'s workers (a resume,
        or a lost run being recovered); None if another process holds it."""
        return self._take_over(
            run_id,
            statuses,
            status="queued",
            executor=executor,
            worker=None,
            lease_expires_at=None,
            **({"attempts": 0} if reset_attempts else {}),
        )

    @_retrying
    def renew_leases(
        self, owner: str, run_ids: Sequence[str], *, lease_s: float
    ) -> list[LeaseState]:
        """Extend the leases of the runs ``owner`` still holds; say which it no longer holds
        and which were asked to stop."""
        if not run_ids:
            return []
        now = utcnow()
        ids = list(run_ids)
        with self.transaction() as conn:
            conn.execute(
                update(RunRow)
                .where(RunRow.id.in_(ids), RunRow.worker == owner, RunRow.status == "running")
                .values(heartbeat_at=now, lease_expires_at=now + timedelta(seconds=lease_s))
            )
            rows = conn.execute(
                select(RunRow.id, RunRow.worker, RunRow.status, RunRow.cancel_requested).where(
                    RunRow.id.in_(ids)
                )
            ).all()
        # a run this owner just finished is still its own; lost, queued or another worker's
        # is not (the owner must stop writing)
        seen = {
            r.id: LeaseState(
                r.id, r.worker == owner and r.status not in ("lost", "queued"), r.cancel_requested
            )
            for r in rows
        }
        return [seen.get(i, LeaseState(i, False, None)) for i in ids]

    def expire_leases(self, run_id: str | None = None) -> list[str]:
        """Mark ``lost`` every running run (or just ``run_id``) whose owner stopped
        heart-beating, each in one conditional transaction, with a ``lost`` status event
        that tells viewers to drop anything they saw past the stored tail."""
        now = utcnow()
        where = [_expired(now, self.lease_s)]
        if run_id is not None:
            where.append(RunRow.id == run_id)
        with self.reading() as conn:
            candidates = self._select_runs(conn, *where)
        marked = []
        for record in candidates:
            heard = record.heartbeat_at or record.started_at or record.created_at
            then = (
                "a worker will resume it"
                if record.executor != "local"
                else "resume it with ba.resume"
            )
            reason = (
                f"lost: its owner {record.worker or '?'} stopped heart-beating "
                f"(last heard of at {heard:%Y-%m-%d %H:%M:%S} UTC); {then}"
            )
            seq = record.last_seq + 1
            with self.transaction() as conn:
                result = conn.execute(
                    update(RunRow)
                    .where(RunRow.id == record.id, RunRow.last_seq == record.last_seq, *where)
                    .values(status="lost", finished_at=now, stop_reason=reason, last_seq=seq)
                )
                if result.rowcount != 1:
                    continue  # its owner wrote meanwhile, or another reader marked it first
                marker = StatusEvent(
                    run_id=record.id,
                    seq=seq,
                    status="lost",
                    reason=reason,
                    truncate_after=record.last_seq,
                )
                conn.execute(self._insert(EventRow).on_conflict_do_nothing(), [event_row(marker)])
            marked.append(record.id)
        return marked

    @_retrying
    def request_cancel(self, run_id: str, mode: str) -> RunRecord:
        """Ask the run's owner, wherever it is, to stop (``graceful`` or ``hard``); a run
        nobody executes (queued, lost) is cancelled at once, with its terminal event."""
        self.mark_finished(
            run_id, "cancelled", stop_reason="cancelled by the user", cancel_requested=mode
        )
        with self.transaction() as conn:
            conn.execute(
                update(RunRow)
                .where(RunRow.id == run_id, RunRow.status == "running")
                .values(cancel_requested=mode)
            )
        return self.find_runs(run_id)[0]

    @_retrying
    def mark_finished(
        self,
        run_id: str,
        status: str,
        *,
        stop_reason: str | None = None,
        error: str | None = None,
        cancel_requested: str | None = None,
    ) -> bool:
        """End a run that no process is executing (queued or lost) with a terminal status
        event right after its stored tail; False if a process executes it."""
        found = self.find_runs(run_id)
        if not found or found[0].id != run_id or found[0].status not in ("queued", "lost"):
            return False
        record = found[0]
        seq = record.last_seq + 1
        with self.transaction() as conn:
            result = conn.execute(
                update(RunRow)
                .where(
                    RunRow.id == run_id,
                    RunRow.status == record.status,
                    RunRow.last_seq == record.last_seq,
                )
                .values(
                    status=status,
                    finished_at=utcnow(),
                    stop_reason=stop_reason,
                    error=error,
                    cancel_requested=cancel_requested,
                    last_seq=seq,
                )
            )
            if result.rowcount != 1:
                return False  # claimed or ended meanwhile
            end = StatusEvent(
                run_id=run_id,
                seq=seq,
                status=status,
                reason=error or stop_reason,  # type: ignore[arg-type]
            )
            conn.execute(self._insert(EventRow).on_conflict_do_nothing(), [event_row(end)])
        return True

    # -- events -----------------------------------------------------------------------------

    def append_events(
        self,
        events: Sequence[Event],
        *,
        run_id: str | None = None,
        owner: str | None = None,
        run_update: dict[str, Any] | None = None,
        checkpoint: tuple[int, dict[str, Any]] | None = None,
    ) -> None:
        """Write a batch in one transaction; rows already stored (same run_id, seq) are kept.

        ``run_update`` (fields of the run) and ``checkpoint`` (seq, team state) ride in the
        same transaction. With ``owner``, the write is fenced: if that process no longer
        owns the run (marked lost, taken over), nothing is written and OwnershipLostError
        is raised.
        """
        run_id = run_id or (events[0].run_id if events else None)
        if run_id is None:
            raise StoreError("append_events needs a run id (no events to take it from)")
        if any(e.run_id != run_id for e in events):
            raise StoreError(f"a batch for run {run_id} holds another run's events")
        # a COPY makes each row as it streams (copy_events); the rest take dicts
        copy = len(events) >= COPY_MIN_ROWS and self.dialect == "postgresql"
        event_rows = [] if copy else [event_row(e) for e in events]
        calls = [model_call_row(e) for e in events if isinstance(e, ModelCallEvent)]
        artifacts = [artifact_row(e) for e in events if isinstance(e, ArtifactEvent)]
        now = utcnow()
        values: dict[str, Any] = {"heartbeat_at": now}
        if owner is not None:
            values["lease_expires_at"] = now + timedelta(seconds=self.lease_s)
        values.update({k: clean(v) for k, v in (run_update or {}).items() if k != "id"})
        top = max(e.seq for e in events) if events else None
        fence = _run_write(tuple(values), fenced=owner is not None, seq=top is not None)
        params = {**{f"v_{k}": v for k, v in values.items()}, "f_id": run_id}
        if owner is not None:
            params["f_owner"] = owner
        if top is not None:
            params["f_top"] = top
        with self.transaction() as conn, _pipelined(conn, not copy) as synced:
            # the run update goes first: it fences the write and opens the transaction the
            # COPY savepoint needs
            result = conn.execute(fence, params)
            if owner is not None and not synced and result.rowcount != 1:
                _lost(run_id)
            if copy:
                copy_events(conn, events)
            elif event_rows:
                self._insert_rows(conn, EventRow, event_rows)
            self._write_hitl(conn, events)
            for table, rows in ((ModelCallRow, calls), (ArtifactRow, artifacts)):
                if rows:
                    self._insert_rows(conn, table, rows)
            if checkpoint is not None:
                seq, state = checkpoint
                conn.execute(
                    self._insert_stmt(CheckpointRow),
                    [{"run_id": run_id, "seq": seq, "state": clean(state), "created_at": now}],
                )
            if synced:
                synced()  # every statement has run; nothing is committed yet
                # the fence is checked before the COMMIT: a write it refused is rolled back
                if owner is not None and result.context.cursor.rowcount != 1:
                    _lost(run_id)

    def _insert_stmt(self, table: type[Any]) -> Any:
        """The idempotent insert for ``table``, built once: the write path runs it for every
        batch, and building and compiling a statement costs more than executing it."""
        stmt = self._inserts.get(table)
        if stmt is None:
            # inline: no implicit RETURNING of a generated key, which nothing reads and
            # which a pipelined batch could not fetch statement by statement
            stmt = self._inserts[table] = self._insert(table).on_conflict_do_nothing().inline()
        return stmt

    def _insert_rows(self, conn: Connection, table: type[Any], rows: list[dict[str, Any]]) -> None:
        """Idempotent insert of a small batch, as an executemany of one statement that is
        compiled once (psycopg pipelines it: one round trip). A multi-row ``VALUES`` is
        one statement too, but a new one for every batch size: compiling it cost more CPU
        than the round trips it saved."""
        conn.execute(self._insert_stmt(table), rows)

    def _write_hitl(self, conn: Connection, events: Sequence[Event]) -> None:
        for e in events:
            if isinstance(e, HitlRequestEvent):
                conn.execute(
                    self._insert_stmt(HitlRequestRow),
                    [
                        {
                            "id": e.request_id,
                            "run_id": e.run_id,
                            "seq": e.seq,
                            "agent": clean(e.agent),
                            "prompt": clean(e.prompt),
                            "options": {"options": clean(e.options)},
                            "status": "pending",
                            "created_at": e.created_at,
                            "expires_at": e.expires_at,
                        }
                    ],
                )
            elif isinstance(e, HitlResponseEvent):
                conn.execute(
                    update(HitlRequestRow)
                    .where(HitlRequestRow.id == e.request_id)
                    .values(response=clean(e.response), status=e.outcome, answered_at=e.created_at)
                )

    @_retrying
    def events(self, run_id: str, *, after_seq: int = 0) -> list[Event]:
        """The run's events with seq > after_seq, in order."""
        query = (
            select(EventRow.__table__)
            .where(EventRow.run_id == run_id, EventRow.seq > after_seq)
            .order_by(EventRow.seq)
        )
        with self.reading() as conn:
            rows = conn.execute(query).all()
        out: list[Event] = []
        for row in rows:
            data = dict(row.payload)
            data.update(
                run_id=row.run_id,
                seq=row.seq,
                type=row.type,
                agent=row.agent,
                created_at=aware(row.created_at),
            )
            if row.content is not None:
                data.setdefault("content" if row.type != "error" else "message", row.content)
            out.append(parse_event(data))
        return out

    # -- DataFrames -------------------------------------------------------------------------

    def frame(self, kind: str, filters: Any = None) -> Any:
        """A frame of ``kind`` (runs, messages, model_calls, artifacts, steps, hitl) with
        ``filters`` (a ``store.frames.Filters``) pushed down to SQL: Arrow through ADBC on
        PostgreSQL, sqlite3 on SQLite."""
        from botarmy_nb.errors import ConfigError
        from botarmy_nb.store.frames import FRAMES

        if kind not in FRAMES:
            raise ConfigError(f"no frame '{kind}'; frames: {', '.join(FRAMES)}")
        return FRAMES[kind](self, filters=filters)

    # -- human in the loop ------------------------------------------------------------------

    @_retrying
    def answer_hitl(self, request_id: str, response: str) -> bool:
        """Answer a pending question from any process; False if it was already answered,
        expired, or does not exist."""
        with self.transaction() as conn:
            result = conn.execute(
                update(HitlRequestRow)
                .where(HitlRequestRow.id == request_id, HitlRequestRow.status == "pending")
                .values(response=clean(response), status="answered", answered_at=utcnow())
            )
        return result.rowcount == 1

    @_retrying
    def hitl_answer(self, request_id: str) -> tuple[str, str | None] | None:
        """(status, response) of a question; None if it does not exist (yet)."""
        query = select(HitlRequestRow.status, HitlRequestRow.response).where(
            HitlRequestRow.id == request_id
        )
        with self.reading() as conn:
            row = conn.execute(query).first()
        return None if row is None else (row.status, row.response)

    @_retrying
    def expire_hitl(self, request_id: str, response: str) -> bool:
        """Close a question nobody answered in time, recording what the run did instead."""
        with self.transaction() as conn:
            result = conn.execute(
                update(HitlRequestRow)
                .where(HitlRequestRow.id == request_id, HitlRequestRow.status == "pending")
                .values(response=clean(response), status="expired", answered_at=utcnow())
            )
        return result.rowcount == 1

    # -- artifacts and checkpoints ----------------------------------------------------------

    @_retrying
    def artifacts(self, run_id: str) -> list[ArtifactRecord]:
        query = select(ArtifactRow.__table__).where(ArtifactRow.run_id == run_id)
        with self.reading() as conn:
            rows = conn.execute(query.order_by(ArtifactRow.seq)).all()
        records = [ArtifactRecord.model_validate(dict(r._mapping)) for r in rows]
        for record in records:
            record.created_at = aware(record.created_at)  # type: ignore[assignment]
        return records

    @_retrying
    def save_checkpoint(self, run_id: str, seq: int, state: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                self._insert(CheckpointRow).on_conflict_do_nothing(),
                [{"run_id": run_id, "seq": seq, "state": clean(state), "created_at": utcnow()}],
            )

    @_retrying
    def latest_checkpoint(self, run_id: str) -> CheckpointRecord | None:
        query = (
            select(CheckpointRow.__table__)
            .where(CheckpointRow.run_id == run_id)
            .order_by(CheckpointRow.seq.desc())
            .limit(1)
        )
        with self.reading() as conn:
            row = conn.execute(query).first()
        return None if row is None else CheckpointRecord.model_validate(dict(row._mapping))


def _open(url: str, embedded: bool) -> SqlRunStore:
    from botarmy_nb.settings import get_settings

    engine = create_store_engine(url)
    try:
        check_schema(engine, auto_upgrade=embedded)
    except BaseException:
        engine.dispose()
        raise
    return SqlRunStore(engine, lease_s=get_settings().lease_s)


register_store("sqlite", _open)
register_store("postgresql", _open)
