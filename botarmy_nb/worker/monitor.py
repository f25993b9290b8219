"""What the workers are doing, for ``status``: Celery's inspect (which workers answer, the
runs they execute) and the depth of the broker's queues."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["WorkerInfo", "queue_depths", "workers"]

_RUN_ID = re.compile(r"\b[0-9a-f]{32}\b")


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    active_runs: list[str]  # ids of the runs it executes now


def _run_ids(task: dict[str, Any]) -> list[str]:
    args = task.get("args")
    if isinstance(args, list | tuple):
        found = [a.get("run_id") for a in args if isinstance(a, dict)]
        return [r for r in found if isinstance(r, str)]
    return _RUN_ID.findall(str(args))  # older Celery versions send the args' repr


def workers(timeout: float = 1.0) -> list[WorkerInfo]:
    """The workers that answer within ``timeout`` seconds, with their active runs."""
    from botarmy_nb.worker.app import celery_app

    replies = celery_app().control.inspect(timeout=timeout).active() or {}
    return [
        WorkerInfo(name, [r for task in tasks or [] for r in _run_ids(task)])
        for name, tasks in sorted(replies.items())
    ]


def queue_depths(queues: Iterable[str]) -> dict[str, int]:
    """Messages waiting in each broker queue (all priorities)."""
    from botarmy_nb.worker.app import celery_app

    depths: dict[str, int] = {}
    with celery_app().connection_for_read() as conn:
        channel = conn.default_channel
        for queue in dict.fromkeys(queues):
            try:
                depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
            except Exception as exc:
                code = getattr(exc, "reply_code", getattr(exc, "code", None))
                if str(code) != "404":  # 404: nothing waits there (Redis drops empty lists)
                    raise
                depths[queue] = 0
    return depths
