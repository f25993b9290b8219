"""The Celery app: broker settings for long LLM runs, the one task, and sending runs to it."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from botarmy_nb.worker.payload import TaskPayload

if TYPE_CHECKING:
    from celery import Celery

    from botarmy_nb.store.records import RunRecord

__all__ = [
    "DEFAULT_PRIORITY",
    "MAX_PRIORITY",
    "TASK_NAME",
    "broker_priority",
    "celery_app",
    "send_run",
]

TASK_NAME = "botarmy_nb.execute_run"
MAX_PRIORITY = 9  # run priorities are 0 (least urgent) … 9 (most urgent)
DEFAULT_PRIORITY = 5
_SEP = ":"  # queue keys in Redis: "botarmy", "botarmy:1" … "botarmy:9"


def broker_priority(priority: int | None) -> int:
    """The Redis transport's priority for a run's: Redis serves 0 first, we say 9 is the
    most urgent; out-of-range values are clamped."""
    value = DEFAULT_PRIORITY if priority is None else max(0, min(MAX_PRIORITY, int(priority)))
    return MAX_PRIORITY - value


def _configure(app: Celery, url: str) -> None:
    from botarmy_nb.settings import get_settings

    settings = get_settings()
    app.conf.update(
        broker_url=url,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            # recovery comes from the store lease; the broker's redelivery is a backstop
            # that must never hand a live run to a second worker (DESIGN §5)
            "visibility_timeout": settings.visibility_timeout_s,
            "queue_order_strategy": "priority",
            "priority_steps": list(range(MAX_PRIORITY + 1)),
            "sep": _SEP,
        },
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=settings.queue,
        task_create_missing_queues=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )


@functools.cache
def _app(url: str) -> Celery:
    from celery import Celery

    app = Celery("botarmy_nb", set_as_current=False)
    _configure(app, url)

    @app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True)
    def execute_run_task(task: Any, payload: dict[str, Any]) -> str:
        """Thin shell: everything happens in :func:`botarmy_nb.worker.task.handle`."""
        from botarmy_nb.worker.task import StoreDownError, handle

        try:
            return handle(payload)
        except StoreDownError as exc:  # the database is away: try again later, lose nothing
            raise task.retry(exc=exc, countdown=5, max_retries=None) from None

    return app


def celery_app(url: str | None = None) -> Celery:
    """The process's Celery app for ``url`` (default: BOTARMY_REDIS_URL)."""
    from botarmy_nb.bus.redis import check_redis
    from botarmy_nb.settings import get_settings

    url = url or get_settings().redis_url
    if not url:
        check_redis(url)  # raises the "not set" error
    assert url is not None
    return _app(url)


def send_run(record: RunRecord) -> None:
    """Send the task for a queued run: its id, on its queue, with its priority."""
    from botarmy_nb.settings import get_settings

    payload = TaskPayload(run_id=record.id).model_dump()
    celery_app().send_task(
        TASK_NAME,
        args=[payload],
        queue=record.queue or get_settings().queue,
        priority=broker_priority(record.priority),
    )
