"""The in-process executor: runs live on a background event-loop thread, never on the kernel's."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from dataclasses import dataclass
from typing import Any

from botarmy_nb.bus.local import local_bus
from botarmy_nb.engine.lease import RunControl, lease_keeper, process_owner
from botarmy_nb.engine.runner import execute_run
from botarmy_nb.events import utcnow
from botarmy_nb.executors.base import register_executor
from botarmy_nb.store.base import RunStore
from botarmy_nb.store.records import RunRecord

__all__ = ["LocalExecutor", "get_local_executor", "live_publisher"]


@dataclass
class _Active:
    future: concurrent.futures.Future[str]
    control: RunControl
    finished: threading.Event


def live_publisher() -> Any:
    """Publish to this process's bus, and to Redis too when one is configured, so other
    kernels can watch a local run live."""
    from botarmy_nb.settings import get_settings

    local = local_bus()
    if not get_settings().redis_url:
        return local.publish
    from botarmy_nb.bus.redis import redis_bus

    remote = redis_bus()

    def publish(event: Any) -> None:
        local.publish(event)
        remote.publish(event)

    return publish


class LocalExecutor:
    """Executes runs on one daemon thread with its own asyncio loop.

    A cell that starts a run returns at once; the run keeps going while the kernel is idle
    and while other cells execute, because it does not share the kernel's event loop.
    """

    name = "local"

    def __init__(self) -> None:
        self.bus = local_bus()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._active: dict[str, _Active] = {}
        self._ended: dict[str, _Outcome] = {}

    @property
    def started(self) -> bool:
        """Whether the run thread is up (it starts with the first run)."""
        return self._thread is not None and self._thread.is_alive()

    def start_fields(self) -> dict[str, Any]:
        """A local run is owned by this process from the moment it is registered."""
        from datetime import timedelta

        from botarmy_nb.settings import get_settings

        now = utcnow()
        return {
            "status": "running",
            "worker": process_owner(),
            "started_at": now,
            "heartbeat_at": now,
            "lease_expires_at": now + timedelta(seconds=get_settings().lease_s),
            "attempts": 1,
        }

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=serve, name="botarmy-runs", daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    def is_running(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._active

    def submit(self, run_id: str, store: RunStore, record: RunRecord | None = None) -> None:
        """Start a run this process owns in the background."""
        self.start(run_id, store, record)

    def start(
        self, run_id: str, store: RunStore, record: RunRecord | None = None
    ) -> concurrent.futures.Future[str]:
        """:meth:`submit`, returning the future that resolves to the final status."""
        loop = self._ensure_loop()
        control = RunControl()
        finished = threading.Event()
        self.bus.open(run_id)
        publish = live_publisher()
        owner = process_owner()
        lease_keeper().track(run_id, store, control)  # from now: the loop may start it late

        async def go() -> str:
            try:
                return await execute_run(
                    run_id, store, publish=publish, owner=owner, control=control, record=record
                )
            finally:
                finished.set()

        future = asyncio.run_coroutine_threadsafe(go(), loop)
        with self._lock:
            self._active[run_id] = _Active(future, control, finished)
        future.add_done_callback(lambda _: self._forget(run_id))
        return future

    def _forget(self, run_id: str) -> None:
        with self._lock:
            active = self._active.pop(run_id, None)
            if active is not None:  # keep how it ended, so wait() can still report it
                self._ended[run_id] = _Outcome.of(active.future)
                while len(self._ended) > 1000:
                    self._ended.pop(next(iter(self._ended)))

    def future(self, run_id: str) -> concurrent.futures.Future[str] | None:
        """The run's future while it runs in this process, and after it ended here."""
        with self._lock:
            active = self._active.get(run_id)
            if active is not None:
                return active.future
            ended = self._ended.get(run_id)
        return None if ended is None else ended.future()

    def cancel(self, run_id: str, *, grace_s: float = 5.0) -> bool:
        """Stop gracefully (after the current message); hard-stop after ``grace_s``."""
        with self._lock:
            active = self._active.get(run_id)
        if active is None:
            return False
        active.control.request_stop()
        if active.finished.wait(grace_s):
            return True
        active.control.hard_stop()
        if not active.finished.wait(grace_s):
            active.future.cancel()  # last resort: cancel the asyncio task itself
            active.finished.wait(grace_s)
        return True


@dataclass(frozen=True, slots=True)
class _Outcome:
    """How a run of this process ended: its status, or the error it raised (None and
    None: cancelled). The run's own future is not kept: through its done-callbacks it
    holds the asyncio task and coroutine of the run, and even a bare finished future is a
    condition, a lock and a queue — kept for the last 1,000 runs, they were promoted into
    the oldest GC generation and made full collections more frequent and slower."""

    status: str | None
    error: BaseException | None

    @classmethod
    def of(cls, future: concurrent.futures.Future[str]) -> _Outcome:
        if future.cancelled():
            return cls(None, None)
        error = future.exception()
        return cls(None, error) if error is not None else cls(future.result(), None)

    def future(self) -> concurrent.futures.Future[str]:
        """A finished future with this outcome, made when asked (``Run.wait``)."""
        done: concurrent.futures.Future[str] = concurrent.futures.Future()
        if self.error is not None:
            done.set_exception(self.error)
        elif self.status is None:
            done.cancel()
        else:
            done.set_result(self.status)
        return done


_executor: LocalExecutor | None = None
_executor_lock = threading.Lock()


def get_local_executor() -> LocalExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = LocalExecutor()
        return _executor


register_executor("local", get_local_executor)
