"""The executor seam: where a registered run executes, behind a small protocol and a
registry by name (``local`` in this process, ``celery`` on workers)."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from botarmy_nb.store.base import RunStore
from botarmy_nb.store.records import RunRecord

__all__ = ["Executor", "executor_names", "get_executor", "register_executor"]


@runtime_checkable
class Executor(Protocol):
    name: str

    def start_fields(self) -> dict[str, Any]:
        """Run fields to register a new run with (``running`` and owned, or ``queued``)."""
        ...

    def submit(self, run_id: str, store: RunStore, record: RunRecord | None = None) -> None:
        """Execute a registered run (owned by this process, or queued for a worker).
        ``record``: the run as just registered or claimed, so it need not be read back."""
        ...

    def future(self, run_id: str) -> concurrent.futures.Future[str] | None:
        """The run's future while (and after) it runs in this process; None elsewhere."""
        ...

    def cancel(self, run_id: str, *, grace_s: float) -> bool:
        """Stop a run executing in this process; False if it does not execute here."""
        ...


_factories: dict[str, Callable[[], Executor]] = {}
_instances: dict[str, Executor] = {}
_lock = threading.Lock()


def register_executor(name: str, factory: Callable[[], Executor]) -> None:
    _factories[name] = factory


def executor_names() -> list[str]:
    _register_builtins()
    return sorted(_factories)


def _register_builtins() -> None:
    # both, whichever was imported first (importing one registers only that one)
    if "local" not in _factories or "celery" not in _factories:
        from botarmy_nb.executors import celery, local  # noqa: F401  (they register)


def get_executor(name: str | None = None) -> Executor:
    """The executor called ``name`` (default: BOTARMY_EXECUTOR); never a silent switch."""
    from botarmy_nb.errors import ConfigError
    from botarmy_nb.settings import get_settings

    name = name or get_settings().executor
    _register_builtins()
    with _lock:
        if name not in _factories:
            raise ConfigError(
                f"executor '{name}' is unknown; choose one of {', '.join(sorted(_factories))}"
            )
        if name not in _instances:
            _instances[name] = _factories[name]()
        return _instances[name]
