"""The SQLAlchemy run store: batched idempotent event writes, runs, artifacts, checkpoints."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import socket
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic_core import to_json
from sqlalchemy import Connection, Engine, case, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from botarmy_nb.errors import NotFoundError, StoreError
from botarmy_nb.events import (
    COLUMN_FIELDS,
    KIND_FIELDS,
    ArtifactEvent,
    Event,
    HitlRequestEvent,
    HitlResponseEvent,
    ModelCallEvent,
    parse_event,
    utcnow,
)
from botarmy_nb.store.database import create_store_engine, safe_url
from botarmy_nb.store.migrate import check_schema
from botarmy_nb.store.records import ArtifactRecord, CheckpointRecord, NewRun, RunRecord
from botarmy_nb.store.schema import (
    ArtifactRow,
    CheckpointRow,
    EventRow,
    HitlRequestRow,
    ModelCallRow,
    RunRow,
)

__all__ = ["SqlRunStore", "open_store"]

_EVENT_COLUMNS = ("run_id", "seq", "type", "kind", "agent", "content", "payload", "created_at")
_COPY_MIN_ROWS = 200  # below this, one multi-row INSERT beats COPY's extra round trips
_RUN_ID = re.compile(r"^[0-9a-f]{1,32}$")


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _run_record(row: Any) -> RunRecord:
    record = RunRecord.model_validate(dict(row) if hasattr(row, "keys") else row)
    for field in ("created_at", "started_at", "finished_at", "heartbeat_at"):
        setattr(record, field, _aware(getattr(record, field)))
    return record


@functools.cache
def _payload_keys(event_type: type) -> tuple[str, ...]:
    """The fields of an event class that go into the payload JSON (not into columns)."""
    return tuple(k for k in event_type.model_fields if k not in COLUMN_FIELDS and k != "content")


def _event_row(event: Event) -> dict[str, Any]:
    # Built from __dict__ rather than model_dump(): this is the hot path of every run.
    fields = event.__dict__
    event_type = fields["type"]
    content = fields["message"] if event_type == "error" else fields.get("content")
    kind = KIND_FIELDS.get(event_type)
    return {
        "run_id": fields["run_id"],
        "seq": fields["seq"],
        "type": event_type,
        "kind": fields[kind] if kind else None,
        "agent": fields["agent"],
        "content": content,
        "payload": {k: fields[k] for k in _payload_keys(type(event))},
        "created_at": fields["created_at"],
    }


def _model_call_row(event: ModelCallEvent) -> dict[str, Any]:
    return {
        "run_id": event.run_id,
        "seq": event.seq,
        "agent": event.agent,
        "provider": event.provider,
        "model": event.model,
        "prompt_tokens": event.prompt_tokens,
        "completion_tokens": event.completion_tokens,
        "latency_s": event.latency_s,
        "ttft_s": event.ttft_s,
        "cost_usd": event.cost_usd,
        "status": event.status,
        "error": event.error,
        "cached": event.cached,
        "created_at": event.created_at,
    }


def _artifact_row(event: ArtifactEvent) -> dict[str, Any]:
    return {
        "run_id": event.run_id,
        "seq": event.seq,
        "name": event.name,
        "agent": event.agent,
        "template": event.template,
        "content": event.content,
        "format": event.format,
        "path": event.path,
        "created_at": event.created_at,
    }


def run_update_id(run_update: dict[str, Any] | None, fallback: str | None) -> str:
    run_id = (run_update or {}).get("id") or fallback
    if run_id is None:
        raise StoreError("a checkpoint needs a run id")
    return str(run_id)


class SqlRunStore:
    """The run store on SQLite or PostgreSQL; every method returns pydantic records."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def url(self) -> str:
        """The database URL with its password hidden."""
        return safe_url(self.engine.url)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back and wrap database errors otherwise."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise StoreError(f"run store {self.url}: {reason}") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A Core connection in one transaction (the write path: no ORM unit of work)."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise StoreError(f"run store {self.url}: {reason}") from exc

    # -- runs -------------------------------------------------------------------------------

    def create_run(self, new: NewRun) -> RunRecord:
        record = RunRecord(**new.model_dump(), created_at=utcnow(), last_seq=0)
        with self.transaction() as conn:
            conn.execute(RunRow.__table__.insert(), [record.model_dump(exclude={"duration_s"})])
        return record

    def update_run(self, run_id: str, **fields: Any) -> None:
        with self.session() as s:
            s.execute(update(RunRow).where(RunRow.id == run_id).values(**fields))

    @staticmethod
    def started_fields(run_id: str) -> dict[str, Any]:
        """The run fields that say a worker has started it (written with the first batch)."""
        now = utcnow()
        worker = f"{socket.gethostname()}:{os.getpid()}:{threading.get_native_id()}"
        return {
            "id": run_id,
            "status": "running",
            "started_at": now,
            "heartbeat_at": now,
            "worker": worker,
        }

    @staticmethod
    def finished_fields(
        run_id: str, status: str, *, stop_reason: str | None = None, error: str | None = None
    ) -> dict[str, Any]:
        return {
            "id": run_id,
            "status": status,
            "finished_at": utcnow(),
            "stop_reason": stop_reason,
            "error": error,
        }

    def mark_finished(
        self, run_id: str, status: str, *, stop_reason: str | None = None, error: str | None = None
    ) -> None:
        """End a run that no worker is executing (e.g. cancelled before it started)."""
        fields = self.finished_fields(run_id, status, stop_reason=stop_reason, error=error)
        self.update_run(run_id, **{k: v for k, v in fields.items() if k != "id"})

    def get_run(self, ref: str) -> RunRecord:
        """A run by id, unique id prefix, or name (the newest run of that name)."""
        with self.session() as s:
            if len(ref) == 32 and _RUN_ID.match(ref):  # the common case: a full id, Core only
                exact = (
                    s.connection().execute(select(RunRow.__table__).where(RunRow.id == ref)).first()
                )
                if exact is not None:
                    return _run_record(exact._mapping)
            if _RUN_ID.match(ref):
                rows = s.scalars(select(RunRow).where(RunRow.id.startswith(ref)).limit(2)).all()
                if len(rows) == 1:
                    return _run_record(rows[0])
                if len(rows) > 1:
                    raise NotFoundError(f"run id prefix '{ref}' is ambiguous: give more of it")
            row = s.scalars(
                select(RunRow).where(RunRow.name == ref).order_by(RunRow.created_at.desc())
            ).first()
            if row is None:
                raise NotFoundError(f"no run '{ref}' in {self.url} (see `%botarmy runs`)")
            return _run_record(row)

    def runs_by_id(self, run_ids: Sequence[str]) -> list[RunRecord]:
        """The runs with these exact ids (any order)."""
        if not run_ids:
            return []
        with self.session() as s:
            rows = s.scalars(select(RunRow).where(RunRow.id.in_(list(run_ids)))).all()
            return [_run_record(r) for r in rows]

    def list_runs(
        self, *, status: str | None = None, name: str | None = None, limit: int | None = None
    ) -> list[RunRecord]:
        query = select(RunRow).order_by(RunRow.created_at)
        if status:
            query = query.where(RunRow.status == status)
        if name:
            query = query.where(RunRow.name == name)
        if limit:
            query = query.order_by(None).order_by(RunRow.created_at.desc()).limit(limit)
        with self.session() as s:
            rows = [_run_record(r) for r in s.scalars(query)]
        return sorted(rows, key=lambda r: r.created_at)

    # -- events -----------------------------------------------------------------------------

    def append_events(
        self,
        events: Sequence[Event],
        *,
        run_update: dict[str, Any] | None = None,
        checkpoint: tuple[int, dict[str, Any]] | None = None,
    ) -> None:
        """Write a batch in one transaction; rows already stored (same run_id, seq) are kept.

        ``run_update`` (fields of the run) and ``checkpoint`` (seq, team state) ride in the
        same transaction, so a run costs a handful of commits however it is batched.
        """
        event_rows = [_event_row(e) for e in events]
        calls = [_model_call_row(e) for e in events if isinstance(e, ModelCallEvent)]
        artifacts = [_artifact_row(e) for e in events if isinstance(e, ArtifactEvent)]
        last: dict[str, int] = {}
        for e in events:
            last[e.run_id] = max(last.get(e.run_id, 0), e.seq)
        updates: dict[str, dict[str, Any]] = {
            run_id: {
                "last_seq": case((RunRow.last_seq < seq, seq), else_=RunRow.last_seq),
                "heartbeat_at": utcnow(),
            }
            for run_id, seq in last.items()
        }
        if run_update:
            fields = {k: v for k, v in run_update.items() if k != "id"}
            updates.setdefault(run_update["id"], {}).update(fields)
        with self.transaction() as conn:
            # the run update goes first: it opens the transaction the COPY savepoint needs
            for run_id, values in updates.items():
                conn.execute(update(RunRow).where(RunRow.id == run_id).values(**values))
            if len(event_rows) >= _COPY_MIN_ROWS and self.dialect == "postgresql":
                self._copy_events(conn, event_rows)
            elif event_rows:
                conn.execute(self._insert(EventRow).on_conflict_do_nothing(), event_rows)
            for e in events:
                if isinstance(e, HitlRequestEvent):
                    conn.execute(
                        self._insert(HitlRequestRow).on_conflict_do_nothing(),
                        [
                            {
                                "id": e.request_id,
                                "run_id": e.run_id,
                                "seq": e.seq,
                                "agent": e.agent,
                                "prompt": e.prompt,
                                "options": {"options": e.options},
                                "status": "pending",
                                "created_at": e.created_at,
                            }
                        ],
                    )
                elif isinstance(e, HitlResponseEvent):
                    conn.execute(
                        update(HitlRequestRow)
                        .where(HitlRequestRow.id == e.request_id)
                        .values(response=e.response, status="answered", answered_at=e.created_at)
                    )
            for table, rows in ((ModelCallRow, calls), (ArtifactRow, artifacts)):
                if rows:
                    conn.execute(self._insert(table).on_conflict_do_nothing(), rows)
            if checkpoint is not None:
                seq, state = checkpoint
                run_id = run_update_id(run_update, events[0].run_id if events else None)
                conn.execute(
                    self._insert(CheckpointRow).on_conflict_do_nothing(),
                    [{"run_id": run_id, "seq": seq, "state": state, "created_at": utcnow()}],
                )

    def _insert(self, table: type[Any]) -> Any:
        # Core inserts on the Table, not the ORM class: one executemany, not a row per call
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        return insert(table.__table__)

    @staticmethod
    def _copy_events(conn: Connection, rows: list[dict[str, Any]]) -> None:
        """PostgreSQL: COPY straight into events; if some rows exist already, COPY into a
        staging table and move them with one idempotent INSERT … SELECT instead."""
        import psycopg

        fairy = conn.connection
        raw = fairy.driver_connection
        columns = ", ".join(_EVENT_COLUMNS)
        for row in rows:
            row["payload"] = to_json(row["payload"]).decode()
        values = [[row[c] for c in _EVENT_COLUMNS] for row in rows]
        try:
            # raw.transaction() is a savepoint inside the session's transaction
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
                    "CREATE TEMP TABLE IF NOT EXISTS events_stage (LIKE events) "
                    "ON COMMIT DELETE ROWS"
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

    def events(self, run_id: str, *, after_seq: int = 0) -> list[Event]:
        """The run's events with seq > after_seq, in order."""
        with self.session() as s:
            rows = (
                s.execute(
                    select(EventRow)
                    .where(EventRow.run_id == run_id, EventRow.seq > after_seq)
                    .order_by(EventRow.seq)
                )
                .scalars()
                .all()
            )
            out: list[Event] = []
            for row in rows:
                data = dict(row.payload)
                data.update(
                    run_id=row.run_id,
                    seq=row.seq,
                    type=row.type,
                    agent=row.agent,
                    created_at=_aware(row.created_at),
                )
                if row.content is not None:
                    data.setdefault("content" if row.type != "error" else "message", row.content)
                out.append(parse_event(data))
            return out

    # -- artifacts and checkpoints ----------------------------------------------------------

    def artifacts(self, run_id: str) -> list[ArtifactRecord]:
        with self.session() as s:
            rows = s.scalars(
                select(ArtifactRow).where(ArtifactRow.run_id == run_id).order_by(ArtifactRow.seq)
            ).all()
            records = [ArtifactRecord.model_validate(r) for r in rows]
        for record in records:
            record.created_at = _aware(record.created_at)  # type: ignore[assignment]
        return records

    def save_checkpoint(self, run_id: str, seq: int, state: dict[str, Any]) -> None:
        with self.session() as s:
            s.connection().execute(
                self._insert(CheckpointRow).on_conflict_do_nothing(),
                [{"run_id": run_id, "seq": seq, "state": state, "created_at": utcnow()}],
            )

    def latest_checkpoint(self, run_id: str) -> CheckpointRecord | None:
        with self.session() as s:
            row = s.scalars(
                select(CheckpointRow)
                .where(CheckpointRow.run_id == run_id)
                .order_by(CheckpointRow.seq.desc())
            ).first()
            return None if row is None else CheckpointRecord.model_validate(row)


_stores: dict[str, SqlRunStore] = {}
_stores_lock = threading.Lock()


def open_store(url: str | None = None) -> SqlRunStore:
    """The store for ``url`` (default: the settings' database), migrated on first use."""
    from botarmy_nb.settings import get_settings

    settings = get_settings()
    url = url or settings.effective_database_url
    embedded = url == settings.effective_database_url and settings.uses_embedded_database
    with _stores_lock:
        store = _stores.get(url)
        if store is None:
            engine = create_store_engine(url)
            try:
                check_schema(engine, auto_upgrade=embedded)
            except BaseException:
                engine.dispose()
                raise
            store = _stores[url] = SqlRunStore(engine)
        return store


def close_stores() -> None:
    """Dispose every open engine (tests, and before a fork)."""
    with _stores_lock:
        for store in _stores.values():
            store.engine.dispose()
        _stores.clear()
