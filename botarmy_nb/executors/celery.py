"""The Celery executor: runs registered ``queued`` in the store and sent to workers over
Redis; the notebook only watches (``botarmy-nb worker`` executes them)."""

from __future__ import annotations

import concurrent.futures
from typing import Any

from botarmy_nb.errors import ConfigError
from botarmy_nb.executors.base import register_executor
from botarmy_nb.store.base import RunStore
from botarmy_nb.store.records import RunRecord

__all__ = ["CeleryExecutor"]


class CeleryExecutor:
    """Sends each run's id to a Celery worker through the Redis broker.

    Creating it (``get_executor("celery")``, which ``prepare`` calls) and registering each
    run check that Redis answers, so a run is never registered for workers that cannot be
    reached — and never silently executed elsewhere.
    """

    name = "celery"

    def __init__(self) -> None:
        from botarmy_nb.bus.redis import check_redis
        from botarmy_nb.settings import get_settings

        check_redis(get_settings().redis_url)
        try:
            import celery  # noqa: F401
        except ImportError:
            raise ConfigError(
                "the celery executor needs its package: pip install 'botarmy-nb[redis]'"
            ) from None

    def start_fields(self) -> dict[str, Any]:
        """A new run waits as ``queued`` until a worker claims it; Redis is checked first
        (this is called before the run is registered)."""
        from botarmy_nb.bus.redis import check_redis
        from botarmy_nb.settings import get_settings

        check_redis(get_settings().redis_url)
        return {"status": "queued"}

    def submit(self, run_id: str, store: RunStore, record: RunRecord | None = None) -> None:
        """Send the run's task (its id, queue and priority). If the broker refuses, the run
        is failed with the reason and ConfigError raised: it never waits for nothing."""
        from botarmy_nb.bus.redis import safe_redis_url
        from botarmy_nb.log import redact
        from botarmy_nb.settings import get_settings
        from botarmy_nb.worker.app import send_run
        from botarmy_nb.worker.task import fail_run

        if record is None or record.id != run_id:
            record = store.get_run(run_id)
        try:
            send_run(record)
        except Exception as exc:
            url = safe_redis_url(get_settings().redis_url or "")
            reason = redact(f"could not send the run to the workers' broker {url}: {exc}")
            fail_run(store, run_id, statuses=["queued"], reason=reason)
            raise ConfigError(reason) from None

    def future(self, run_id: str) -> concurrent.futures.Future[str] | None:
        """Runs execute on workers: there is no future in this process."""
        return None

    def cancel(self, run_id: str, *, grace_s: float) -> bool:
        """Never executes here: ``Run.cancel`` asks the run's worker through the store."""
        return False


register_executor("celery", CeleryExecutor)
