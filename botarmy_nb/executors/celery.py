"""The Celery executor: runs queued in the store and sent to workers over Redis."""

from __future__ import annotations

from botarmy_nb.executors.base import register_executor

__all__ = ["CeleryExecutor"]


class CeleryExecutor:
    """Placeholder until the worker lands: refuses clearly instead of switching silently."""

    name = "celery"

    def __init__(self) -> None:
        from botarmy_nb.errors import ConfigError

        raise ConfigError("the celery executor is not available yet; use --executor local")


register_executor("celery", CeleryExecutor)  # type: ignore[arg-type]
