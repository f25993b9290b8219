"""A guard around a Celery 5.7 / kombu Redis bug that kills a worker when Redis restarts.

After losing the broker, Celery 5.7's consumer collects its connection (which drops the
transport's client) and then closes it. Closing the channel makes kombu's Redis QoS
restore unacknowledged messages, and a run finishing later acknowledges its message, both
through a client built from that dropped one: the AttributeError this raises is not a
connection error, so the worker stops for good ("Unrecoverable error: … no attribute
'hostname'" / "'client'"). Those calls cannot reach the old connection anyway: the guard
logs and goes on. The messages stay in kombu's unacked set (handed out again only after
the visibility timeout, and a run's conditional claim makes a second delivery harmless),
and the consumer reconnects.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from botarmy_nb.log import get_logger

__all__ = ["guard_redis_qos"]

log = get_logger("worker")


def _guarded(method: Callable[..., Any], what: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(self.channel.connection, "client", None) is None:
            log.warning(f"could not {what}: its broker connection is gone")
            return None
        return method(self, *args, **kwargs)

    call._botarmy_guard = True  # type: ignore[attr-defined]
    return call


def guard_redis_qos() -> None:
    """Install the guard once per process (the worker calls it before starting)."""
    from kombu.transport import redis as kombu_redis

    qos = kombu_redis.QoS
    for name, what in (
        ("restore_unacked", "hand unacknowledged tasks back to Redis"),
        ("ack", "acknowledge a task"),
        ("reject", "reject a task"),
    ):
        method = getattr(qos, name)
        if not getattr(method, "_botarmy_guard", False):
            setattr(qos, name, _guarded(method, what))
