"""A bare Celery app on the benchmark's Redis: M1's baseline worker (nothing of ours loaded)."""

from __future__ import annotations

from celery import Celery

from benchmarks._core import REDIS_URL

app = Celery("bare", broker=REDIS_URL)


@app.task
def noop() -> None:
    return None
