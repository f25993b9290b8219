"""The in-process executor: runs live on a background event-loop thread, never on the kernel's."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from dataclasses import dataclass

from botarmy_nb.engine.runner import RunControl, execute_run
from botarmy_nb.executors.bus import LocalEventBus
from botarmy_nb.store.sql import SqlRunStore

__all__ = ["LocalExecutor", "get_local_executor"]


@dataclass
class _Active:
    future: concurrent.futures.Future[str]
    control: RunControl
    finished: threading.Event


class LocalExecutor:
    """Executes runs on one daemon thread with its own asyncio loop.

    A cell that starts a run returns at once; the run keeps going while the kernel is idle
    and while other cells execute, because it does not share the kernel's event loop.
    """

    name = "local"

    def __init__(self) -> None:
        self.bus = LocalEventBus()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._active: dict[str, _Active] = {}
        self._ended: dict[str, concurrent.futures.Future[str]] = {}

    @property
    def started(self) -> bool:
        """Whether the run thread is up (it starts with the first run)."""
        return self._thread is not None and self._thread.is_alive()

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

    def submit(self, run_id: str, store: SqlRunStore) -> concurrent.futures.Future[str]:
        """Start a queued run in the background; the future resolves to its final status."""
        loop = self._ensure_loop()
        control = RunControl()
        finished = threading.Event()
        self.bus.open(run_id)

        async def go() -> str:
            try:
                return await execute_run(run_id, store, publish=self.bus.publish, control=control)
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
                self._ended[run_id] = active.future
                while len(self._ended) > 1000:
                    self._ended.pop(next(iter(self._ended)))

    def future(self, run_id: str) -> concurrent.futures.Future[str] | None:
        """The run's future while it runs in this process, and after it ended here."""
        with self._lock:
            active = self._active.get(run_id)
            return active.future if active else self._ended.get(run_id)

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


_executor: LocalExecutor | None = None
_executor_lock = threading.Lock()


def get_local_executor() -> LocalExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = LocalExecutor()
        return _executor
