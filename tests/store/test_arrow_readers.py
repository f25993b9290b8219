"""The ADBC connections the PostgreSQL frames read with are kept between reads: a later
read still sees what was written meanwhile, a connection that failed is not lent again,
and closing the store closes them."""

from __future__ import annotations

import pytest

from botarmy_nb.events import MessageEvent
from botarmy_nb.store.frames import messages_frame
from botarmy_nb.store.records import NewRun


@pytest.fixture
def pg_store(pg_url: str):  # type: ignore[no-untyped-def]
    from botarmy_nb.store.sql import open_store

    store = open_store(pg_url)
    store.create_run(NewRun(id="a" * 32, name="r", task="t", model="scripted"))
    yield store
    store.close()


def _say(store, start: int, n: int) -> None:  # type: ignore[no-untyped-def]
    store.append_events(
        [
            MessageEvent(run_id="a" * 32, seq=s, agent="w", content=f"m{s}")
            for s in range(start, start + n)
        ]
    )


def test_a_kept_connection_sees_what_was_written_after_its_last_read(pg_store) -> None:  # type: ignore[no-untyped-def]
    _say(pg_store, 1, 3)
    assert len(messages_frame(pg_store)) == 3
    readers = pg_store.arrow_readers()
    assert len(readers._idle) == 1  # kept, in autocommit: no snapshot held open
    _say(pg_store, 4, 2)
    assert list(messages_frame(pg_store)["content"]) == ["m1", "m2", "m3", "m4", "m5"]
    assert len(readers._idle) == 1  # the same one, lent again


def test_a_connection_that_failed_is_not_lent_again(pg_store) -> None:  # type: ignore[no-untyped-def]
    readers = pg_store.arrow_readers()
    failing = pytest.raises(Exception, match="no_such_table")
    with failing, readers.connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM no_such_table")
    assert readers._idle == []
    _say(pg_store, 1, 1)
    assert len(messages_frame(pg_store)) == 1  # a new one reads on


def test_closing_the_store_closes_its_readers(pg_store) -> None:  # type: ignore[no-untyped-def]
    _say(pg_store, 1, 1)
    messages_frame(pg_store)
    readers = pg_store.arrow_readers()
    (kept,) = readers._idle
    pg_store.close()
    assert readers._idle == []
    with pytest.raises(Exception):  # noqa: B017 - the driver's own "closed" error
        kept.cursor()
