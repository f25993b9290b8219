"""ADBC connections for reading frames from PostgreSQL as Arrow, kept between reads.

A new connection costs the server a backend process, about as long as reading 20,000 rows
(benchmark B6): a store keeps up to two idle ones. Each is in autocommit mode — no read
holds a snapshot open between frames — with the session settings the frames' SQL needs.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["ArrowReaders"]

# the values compile_query inlines are quoted for standard_conforming_strings; a parallel
# scan is no faster for one client reading every row, and returns the rows interleaved
SESSION = ("SET standard_conforming_strings = on", "SET max_parallel_workers_per_gather = 0")
IDLE_MAX = 2


class ArrowReaders:
    """A few ADBC connections to one PostgreSQL database, lent one read at a time."""

    def __init__(self, uri: str) -> None:
        self._uri = uri
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        """An idle connection, or a new one; one that saw an error is closed, not kept."""
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
        try:
            yield conn
        except BaseException:
            with contextlib.suppress(Exception):
                conn.close()
            raise
        with self._lock:
            if not self._closed and len(self._idle) < IDLE_MAX:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.close()

    def _connect(self) -> Any:
        import adbc_driver_postgresql.dbapi as adbc

        conn = adbc.connect(self._uri, autocommit=True)
        with conn.cursor() as cur:
            for statement in SESSION:
                cur.execute(statement)
        return conn
