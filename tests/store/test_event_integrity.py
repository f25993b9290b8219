"""Events belong to a stored run without a per-row foreign key (migration 0003): events of
an unknown or deleted run are refused on every write path, deleting a run deletes its
events, and a write holds its run as a foreign key would."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from botarmy_nb.errors import StoreError
from botarmy_nb.events import MessageEvent
from botarmy_nb.store.database import create_store_engine
from botarmy_nb.store.migrate import upgrade
from botarmy_nb.store.pgcopy import COPY_MIN_ROWS
from botarmy_nb.store.records import NewRun
from botarmy_nb.store.schema import EventRow

KEPT, GONE = "a" * 32, "b" * 32


def _said(run_id: str, n: int, start: int = 1) -> list[MessageEvent]:
    return [
        MessageEvent(run_id=run_id, seq=s, agent="w", content=f"m{s}")
        for s in range(start, start + n)
    ]


def _count(store, run_id: str) -> int:  # type: ignore[no-untyped-def]
    with store.reading() as conn:
        query = select(func.count()).where(EventRow.run_id == run_id)
        return int(conn.execute(query).scalar_one())


@pytest.mark.parametrize("size", [3, COPY_MIN_ROWS + 5], ids=["insert", "copy"])
def test_events_of_an_unknown_run_are_refused_and_nothing_is_written(store, size: int) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StoreError, match="refused") as info:
        store.append_events(_said(GONE, size))
    if store.dialect == "postgresql":
        assert GONE in str(info.value)  # the trigger names the missing run
    assert _count(store, GONE) == 0


def test_deleting_a_run_deletes_its_events_and_later_writes_are_refused(store) -> None:  # type: ignore[no-untyped-def]
    for run_id in (KEPT, GONE):
        store.create_run(NewRun(id=run_id, name=run_id[:4], task="t", model="m"))
        store.append_events(_said(run_id, COPY_MIN_ROWS + 5))
    with store.transaction() as conn:  # not through the store: any client's DELETE
        conn.execute(text("DELETE FROM runs WHERE id = :id"), {"id": GONE})
    assert _count(store, GONE) == 0 and _count(store, KEPT) == COPY_MIN_ROWS + 5
    for size in (2, COPY_MIN_ROWS + 5):
        with pytest.raises(StoreError, match="refused"):
            store.append_events(_said(GONE, size, start=1000))
    assert _count(store, GONE) == 0
    store.append_events(_said(KEPT, 2, start=1000))  # the other run still writes


def test_one_statement_with_several_runs_is_checked_run_by_run(store) -> None:  # type: ignore[no-untyped-def]
    store.create_run(NewRun(id=KEPT, name="k", task="t", model="m"))
    insert = text(
        "INSERT INTO events (run_id, seq, type, payload, created_at) "
        "VALUES (:a, 1, 'message', '{}', CURRENT_TIMESTAMP), "
        "(:b, 2, 'message', '{}', CURRENT_TIMESTAMP)"
    )
    with pytest.raises(StoreError, match="refused"), store.transaction() as conn:
        conn.execute(insert, {"a": KEPT, "b": GONE})
    assert _count(store, KEPT) == 0
    store.create_run(NewRun(id=GONE, name="g", task="t", model="m"))
    with store.transaction() as conn:
        conn.execute(insert, {"a": KEPT, "b": GONE})
    assert _count(store, KEPT) == 1 and _count(store, GONE) == 1


def test_a_write_holds_its_run_until_commit_on_postgresql(store) -> None:  # type: ignore[no-untyped-def]
    if store.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time: a delete waits for the whole database")
    import psycopg

    store.create_run(NewRun(id=KEPT, name="k", task="t", model="m"))
    with store.engine.connect() as writer:
        writer.begin()
        # another client's raw INSERT (not the store's fenced write): the trigger alone
        # must lock the run as a foreign key's check does
        writer.execute(
            text(
                "INSERT INTO events (run_id, seq, type, payload, created_at) "
                "VALUES (:r, 1, 'message', '{}', now())"
            ),
            {"r": KEPT},
        )
        url = store.engine.url.set(drivername="postgresql").render_as_string(False)
        with psycopg.connect(url, autocommit=True) as other:
            other.execute("SET lock_timeout = '200ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute("DELETE FROM runs WHERE id = %s", (KEPT,))
        writer.commit()
    assert _count(store, KEPT) == 1


def test_upgrade_from_0002_keeps_events_and_downgrade_restores_the_key(database_url: str) -> None:
    engine = create_store_engine(database_url)
    upgrade(engine, "0002")
    insert_run = text(
        "INSERT INTO runs (id, name, status, task, model, executor, spec, variables, "
        "created_at, last_seq, attempts) VALUES (:id, 'r', 'completed', 't', 'm', 'local', "
        "'{}', '{}', CURRENT_TIMESTAMP, 0, 0)"
    )
    insert_event = text(
        "INSERT INTO events (run_id, seq, type, payload, created_at) "
        "VALUES (:r, :s, 'message', '{}', CURRENT_TIMESTAMP)"
    )
    with engine.begin() as conn:
        conn.execute(insert_run, {"id": KEPT})
        conn.execute(insert_event, {"r": KEPT, "s": 1})
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM events")).scalar_one() == 1
    with pytest.raises(Exception, match="refused"), engine.begin() as conn:
        conn.execute(insert_event, {"r": GONE, "s": 1})
    from alembic import command

    from botarmy_nb.store.migrate import _config

    cfg = _config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    with pytest.raises(Exception, match=r"(?i)foreign key"), engine.begin() as conn:
        conn.execute(insert_event, {"r": GONE, "s": 1})
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM events")).scalar_one() == 1
    engine.dispose()
