"""The run-store seam: the ``RunStore`` protocol and a registry of stores by URL scheme."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from botarmy_nb.events import Event
from botarmy_nb.store.records import ArtifactRecord, CheckpointRecord, NewRun, RunRecord

__all__ = ["LeaseState", "RunStore", "close_stores", "open_store", "register_store"]


@dataclass(frozen=True)
class LeaseState:
    """What an owner learns when it renews a run's lease."""

    run_id: str
    owned: bool  # False: the run was marked lost, finished or taken over elsewhere
    cancel_requested: str | None  # None | "graceful" | "hard"


@runtime_checkable
class RunStore(Protocol):
    """Where runs, their events, artifacts and checkpoints live; the source of truth.

    Writes are idempotent on ``(run_id, seq)``. Every method returns pydantic records,
    never ORM rows. Lifecycle methods are conditional, so several processes can share
    one store: a run has at most one owner, found by its lease.
    """

    url: str
    dialect: str

    def create_run(self, new: NewRun) -> RunRecord: ...
    def get_run(self, ref: str, *, expire: bool = True) -> RunRecord: ...
    def find_runs(self, ref: str) -> list[RunRecord]: ...
    def list_runs(self, **filters: Any) -> list[RunRecord]: ...
    def runs_by_id(self, run_ids: Sequence[str]) -> list[RunRecord]: ...
    def update_run(self, run_id: str, **fields: Any) -> None: ...
    def append_events(
        self,
        events: Sequence[Event],
        *,
        run_id: str | None = None,
        owner: str | None = None,
        run_update: dict[str, Any] | None = None,
        checkpoint: tuple[int, dict[str, Any]] | None = None,
    ) -> None: ...
    def events(self, run_id: str, *, after_seq: int = 0) -> list[Event]: ...
    def artifacts(self, run_id: str) -> list[ArtifactRecord]: ...
    def latest_checkpoint(self, run_id: str) -> CheckpointRecord | None: ...
    def claim_run(
        self, run_id: str, owner: str, *, statuses: Sequence[str], lease_s: float
    ) -> RunRecord | None: ...
    def requeue_run(
        self,
        run_id: str,
        *,
        statuses: Sequence[str],
        executor: str,
        reset_attempts: bool = False,
    ) -> RunRecord | None: ...
    def renew_leases(
        self, owner: str, run_ids: Sequence[str], *, lease_s: float
    ) -> list[LeaseState]: ...
    def expire_leases(self, run_id: str | None = None) -> list[str]: ...
    def request_cancel(self, run_id: str, mode: str) -> RunRecord: ...
    def mark_finished(
        self,
        run_id: str,
        status: str,
        *,
        stop_reason: str | None = None,
        error: str | None = None,
        cancel_requested: str | None = None,
    ) -> bool: ...
    def frame(self, kind: str, filters: Any = None) -> Any: ...
    def answer_hitl(self, request_id: str, response: str) -> bool: ...
    def hitl_answer(self, request_id: str) -> tuple[str, str | None] | None: ...
    def expire_hitl(self, request_id: str, response: str) -> bool: ...
    def close(self) -> None: ...


StoreFactory = Callable[[str, bool], RunStore]
_factories: dict[str, StoreFactory] = {}
_stores: dict[str, RunStore] = {}
_lock = threading.Lock()


def register_store(scheme: str, factory: StoreFactory) -> None:
    """Serve URLs whose backend is ``scheme`` (``sqlite``, ``postgresql``…) with ``factory``
    (called with the URL and whether it is the embedded default database)."""
    _factories[scheme] = factory


def _scheme(url: str) -> str:
    head = url.split(":", 1)[0]
    return head.split("+", 1)[0].lower()


def open_store(url: str | None = None) -> RunStore:
    """The store for ``url`` (default: the settings' database), opened once per process."""
    from botarmy_nb.errors import ConfigError
    from botarmy_nb.settings import get_settings

    settings = get_settings()
    url = url or settings.effective_database_url
    embedded = url == settings.effective_database_url and settings.uses_embedded_database
    with _lock:
        store = _stores.get(url)
        if store is not None:
            return store
        from botarmy_nb.store import sql  # noqa: F401  (registers sqlite and postgresql)

        scheme = "postgresql" if _scheme(url) == "postgres" else _scheme(url)
        factory = _factories.get(scheme)
        if factory is None:
            from botarmy_nb.store.database import safe_url

            known = ", ".join(sorted(_factories))
            raise ConfigError(
                f"BOTARMY_DATABASE_URL {safe_url(url)}: no run store for '{scheme}' "
                f"(known: {known})"
            )
        store = _stores[url] = factory(url, embedded)
        return store


def close_stores() -> None:
    """Close every open store (tests, and before a fork)."""
    with _lock:
        for store in _stores.values():
            store.close()
        _stores.clear()
