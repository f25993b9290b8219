"""Starting a worker: check the services, then run Celery's worker (threads pool) with the
recovery loop beside it."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from botarmy_nb.log import get_logger

__all__ = ["serve"]

log = get_logger("worker")


def _split(queues: Sequence[str]) -> list[str]:
    return [q.strip() for item in queues for q in item.split(",") if q.strip()]


def serve(
    *,
    concurrency: int | None = None,
    queues: Sequence[str] = (),
    loglevel: str = "INFO",
    name: str | None = None,
) -> None:
    """Run a worker until it is stopped (SIGTERM/SIGINT: warm shutdown, letting runs end).

    Threads pool: each run is a coroutine under its own ``asyncio.run`` on a pool thread,
    so one process executes ``concurrency`` I/O-bound runs at once (DESIGN §5). Raises
    ConfigError before starting if Redis or the database cannot be used.
    """
    from celery import signals

    from botarmy_nb.bus.redis import check_redis, close_redis_buses
    from botarmy_nb.engine.lease import process_owner
    from botarmy_nb.settings import get_settings
    from botarmy_nb.store.base import open_store
    from botarmy_nb.worker.app import celery_app, send_run
    from botarmy_nb.worker.compat import guard_redis_qos
    from botarmy_nb.worker.recovery import RecoveryLoop

    settings = get_settings()
    # the owner token is made on first use; making it here, before the pool's threads
    # exist, keeps concurrent first tasks from each making (and claiming with) their own
    process_owner()
    check_redis(settings.redis_url)
    store = open_store()  # a clear error now, not in the first task
    app = celery_app()
    guard_redis_qos()
    names = _split(queues) or [settings.queue]
    recovery = RecoveryLoop(
        store,
        send_run,
        interval_s=settings.recovery_interval_s,
        max_attempts=settings.max_attempts,
    )

    def started(**_: object) -> None:
        recovery.start()
        log.info("worker ready", queues=names, store=store.url)

    def stopping(**_: object) -> None:
        recovery.stop()

    def stopped(**_: object) -> None:
        close_redis_buses()

    if loglevel.upper() != "DEBUG":  # AutoGen logs every message at INFO: the store has them
        for noisy in ("autogen_core", "autogen_agentchat", "autogen_ext"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    signals.worker_ready.connect(started, weak=False)
    signals.worker_shutting_down.connect(stopping, weak=False)
    signals.worker_shutdown.connect(stopped, weak=False)
    argv = [
        "worker",
        "--pool=threads",
        f"--concurrency={concurrency or settings.worker_concurrency}",
        f"--queues={','.join(names)}",
        f"--loglevel={loglevel}",
        f"--hostname={name or f'botarmy-{os.getpid()}@%h'}",
        "--without-gossip",
        "--without-mingle",
    ]
    app.worker_main(argv)
