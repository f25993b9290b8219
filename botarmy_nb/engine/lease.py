"""Run ownership: this process's owner token, run controls, and the heartbeat thread that
renews leases and carries stop requests from other processes."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from autogen_core import CancellationToken

from botarmy_nb.log import get_logger
from botarmy_nb.store.base import LeaseState, RunStore

__all__ = ["LeaseKeeper", "RunControl", "lease_keeper", "process_owner"]

log = get_logger("lease")
_owner: tuple[int, str] | None = None
_owner_lock = threading.Lock()


def process_owner() -> str:
    """``host:pid:token`` naming this process as a run owner (new after a fork; one per
    process even when several threads ask first at once)."""
    global _owner
    pid = os.getpid()
    with _owner_lock:
        if _owner is None or _owner[0] != pid:
            _owner = (pid, f"{socket.gethostname()}:{pid}:{uuid.uuid4().hex[:8]}")
        return _owner[1]


@dataclass
class RunControl:
    """Handles another thread (or, through the lease, another process) uses to stop a run;
    filled in by the running coroutine."""

    loop: asyncio.AbstractEventLoop | None = None
    external: Any = None  # the team's RunTermination: .set() stops it after this message
    token: CancellationToken = field(default_factory=CancellationToken)
    cancel_requested: bool = False
    ownership_lost: bool = False
    stop_reason: str | None = None  # why it was stopped, when not the user (a timeout)

    def request_stop(self, reason: str | None = None) -> None:
        """Graceful: the team stops after the current message."""
        self.cancel_requested = True
        self.stop_reason = self.stop_reason or reason
        if self.loop is not None and self.external is not None:
            self.loop.call_soon_threadsafe(self.external.set)

    def hard_stop(self, reason: str | None = None) -> None:
        """Abort the model call or tool in flight."""
        self.cancel_requested = True
        self.stop_reason = self.stop_reason or reason
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.token.cancel)

    def on_lease(self, state: LeaseState) -> None:
        """React to what renewing the lease said."""
        if not state.owned:
            if not self.ownership_lost:
                log.warning("run ownership lost; stopping", run_id=state.run_id)
            self.ownership_lost = True
            self.hard_stop()
        elif state.cancel_requested == "hard":
            self.hard_stop()
        elif state.cancel_requested and not self.cancel_requested:
            self.request_stop()


class LeaseKeeper:
    """One daemon thread per process: every ``interval_s`` it renews the leases of the
    runs this process executes (one statement per store) and hands each run's control
    what it learnt. A process that dies stops renewing; its runs' leases run out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, tuple[RunStore, RunControl]] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def track(self, run_id: str, store: RunStore, control: RunControl) -> None:
        with self._lock:
            self._runs[run_id] = (store, control)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._serve, name="botarmy-lease", daemon=True
                )
                self._thread.start()

    def untrack(self, run_id: str) -> None:
        with self._lock:
            self._runs.pop(run_id, None)

    def renew_now(self) -> None:
        """Renew at once (tests, and a cancel that should not wait for the next beat)."""
        self._wake.set()

    def _serve(self) -> None:
        from botarmy_nb.settings import get_settings

        while True:
            self._wake.wait(get_settings().heartbeat_s)
            self._wake.clear()
            try:
                self.beat()
            except Exception:  # the keeper must outlive any one bad beat
                log.warning("lease beat failed", exc_info=True)

    def beat(self) -> None:
        from botarmy_nb.settings import get_settings

        lease_s = get_settings().lease_s
        with self._lock:
            runs = dict(self._runs)
        by_store: dict[int, tuple[RunStore, list[str]]] = {}
        for run_id, (store, _) in runs.items():
            by_store.setdefault(id(store), (store, []))[1].append(run_id)
        owner = process_owner()
        for store, run_ids in by_store.values():
            try:
                states = store.renew_leases(owner, run_ids, lease_s=lease_s)
            except Exception as exc:  # the next beat retries; fencing guards the writes
                log.warning("lease renewal failed", error=str(exc))
                continue
            with self._lock:
                still = {state.run_id for state in states if state.run_id in self._runs}
            for state in states:
                entry = runs.get(state.run_id)
                if entry is not None and state.run_id in still:  # not finished meanwhile
                    entry[1].on_lease(state)


_keeper: LeaseKeeper | None = None
_keeper_lock = threading.Lock()


def lease_keeper() -> LeaseKeeper:
    """The process's lease keeper (settings: BOTARMY_HEARTBEAT_S, BOTARMY_LEASE_S)."""
    global _keeper
    with _keeper_lock:
        if _keeper is None:
            _keeper = LeaseKeeper()
        return _keeper
