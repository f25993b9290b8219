"""The Redis Streams event bus: one bounded stream per run, published off the run loop,
tailed with XREAD BLOCK by any process, reconnecting with backoff when Redis restarts."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from botarmy_nb.errors import ConfigError
from botarmy_nb.events import TERMINAL_STATUSES, Event, StatusEvent, parse_event
from botarmy_nb.log import get_logger

if TYPE_CHECKING:
    import redis

__all__ = [
    "RedisEventBus",
    "RedisFeed",
    "check_redis",
    "close_redis_buses",
    "redis_bus",
    "redis_client",
    "safe_redis_url",
    "stream_key",
]

log = get_logger("bus.redis")

_FIELD = "e"  # the one field of a stream entry: the event as JSON
_BATCH = 500  # entries per pipelined round trip
_BUFFER = 100_000  # events held while Redis is away; older ones are dropped (the store has them)
_ACTIVE_TTL_S = 7 * 86_400  # a stream whose run never ended (its process died) expires too
_BACKOFF_MIN_S, _BACKOFF_MAX_S = 0.1, 5.0


def stream_key(run_id: str) -> str:
    """The Redis key of a run's event stream."""
    return f"botarmy:run:{run_id}:events"


def safe_redis_url(url: str) -> str:
    """The Redis URL with its password hidden, for messages and logs.

    >>> safe_redis_url("redis://:hunter2@cache:6379/0")
    'redis://:***@cache:6379/0'
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparseable Redis URL>"
    if password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _reason(exc: BaseException) -> str:
    from botarmy_nb.log import redact

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return redact(text)


def redis_client(url: str, *, socket_timeout: float | None = 5.0) -> redis.Redis:
    """A client for ``url``; ConfigError (password hidden) if the URL is not a Redis URL or
    redis-py is not installed. Connects lazily."""
    try:
        import redis
    except ImportError:
        raise ConfigError("Redis needs its package: pip install 'botarmy-nb[redis]'") from None
    try:
        return redis.Redis.from_url(
            url,
            socket_connect_timeout=3,
            socket_timeout=socket_timeout,
            health_check_interval=30,
        )
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"BOTARMY_REDIS_URL {safe_redis_url(url)} is not usable: {exc}") from None


def check_redis(url: str | None) -> None:
    """Raise ConfigError, saying why with the password hidden, unless Redis at ``url``
    answers a PING (one round trip)."""
    if not url:
        raise ConfigError(
            "BOTARMY_REDIS_URL is not set: the celery executor needs Redis "
            "(e.g. redis://127.0.0.1:6379/0), or use --executor local"
        )
    client = redis_client(url, socket_timeout=3.0)
    try:
        client.ping()
    except Exception as exc:
        raise ConfigError(f"cannot reach Redis at {safe_redis_url(url)}: {_reason(exc)}") from None
    finally:
        client.close()


class RedisEventBus:
    """Publishes run events to Redis Streams from a background thread.

    ``publish`` only serialises and queues: the run's loop never waits on the network.
    The thread writes batches with pipelined ``XADD … MAXLEN ~``; while Redis is away it
    keeps up to 100k events and retries with backoff (viewers fill any gap from the store,
    which stays the source of truth). A run's stream expires ``ttl_s`` after its end.
    """

    name = "redis"

    def __init__(self, url: str, *, maxlen: int = 10_000, ttl_s: float = 3_600.0) -> None:
        self.url, self.maxlen, self.ttl_s = url, maxlen, ttl_s
        self._client = redis_client(url)
        self._cond = threading.Condition()
        self._pending: deque[tuple[str, str, bytes | None, bool]] = deque()
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self.dropped = 0  # events given up while Redis was unreachable and the buffer full

    def __repr__(self) -> str:
        return f"<RedisEventBus {safe_redis_url(self.url)}>"

    # -- publishing -------------------------------------------------------------------------

    def publish(self, event: Event) -> None:
        """Queue ``event`` for its run's stream; returns at once."""
        data = event.model_dump_json().encode()
        ended = isinstance(event, StatusEvent) and event.status in TERMINAL_STATUSES
        self._put(("add", event.run_id, data, ended))

    def reset(self, run_id: str) -> None:
        """Drop a run's stream (in publish order): a resumed run starts a clean stream, so
        no viewer replays what a dead attempt published but never stored."""
        self._put(("reset", run_id, None, False))

    def _put(self, item: tuple[str, str, bytes | None, bool]) -> None:
        with self._cond:
            if self._closed:
                return
            self._pending.append(item)
            if len(self._pending) > _BUFFER:
                self._pending.popleft()
                self.dropped += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="botarmy-redis-publisher", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything published so far reached Redis; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending or self._busy:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left if left is not None else 0.5)
        return True

    def close(self, timeout: float = 2.0) -> None:
        """Flush for up to ``timeout`` seconds, then stop the thread."""
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._client.close()

    def _serve(self) -> None:
        backoff = _BACKOFF_MIN_S
        failing = False
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                batch = [self._pending.popleft() for _ in range(min(_BATCH, len(self._pending)))]
                self._busy = True
            try:
                self._write(batch)
            except Exception as exc:
                with self._cond:  # put it back in front, keep order; retry after a pause
                    self._pending.extendleft(reversed(batch))
                    self._busy = False
                    self._cond.notify_all()
                if not failing:
                    log.warning(
                        "Redis unreachable; live events held until it is back",
                        redis=safe_redis_url(self.url),
                        error=_reason(exc),
                    )
                failing = True
                with self._cond:
                    self._cond.wait_for(lambda: self._closed, timeout=backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX_S)
                continue
            if failing:
                log.warning("Redis reachable again", redis=safe_redis_url(self.url))
            failing, backoff = False, _BACKOFF_MIN_S
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _write(self, batch: list[tuple[str, str, bytes | None, bool]]) -> None:
        pipe = self._client.pipeline(transaction=False)
        touched: dict[str, bool] = {}  # key -> the run ended in this batch
        for op, run_id, data, ended in batch:
            key = stream_key(run_id)
            if op == "reset":
                pipe.delete(key)
                touched.pop(key, None)
                continue
            assert data is not None
            pipe.xadd(key, {_FIELD: data}, maxlen=self.maxlen, approximate=True)
            touched[key] = touched.get(key, False) or ended
        for key, ended in touched.items():
            pipe.expire(key, int(self.ttl_s if ended else _ACTIVE_TTL_S))
        pipe.execute()

    # -- reading ----------------------------------------------------------------------------

    def feed(self, run_id: str) -> RedisFeed:
        """A live feed of the run's events: the whole stream so far, then new entries."""
        return RedisFeed(self.url, run_id)


class RedisFeed:
    """One subscriber's view of a run's stream, read with ``XREAD BLOCK`` on its own
    connection. Redis going away makes ``get`` return None (with backoff) while
    ``reconnecting`` is True; the subscription fills the gap from the store meanwhile."""

    def __init__(self, url: str, run_id: str) -> None:
        self.run_id = run_id
        self._key = stream_key(run_id)
        self._url = url
        self._client = redis_client(url, socket_timeout=None)
        self._last_id = "0-0"
        self._ready: deque[Event] = deque()
        self._retry_at = 0.0
        self._backoff = _BACKOFF_MIN_S
        self.reconnecting = False

    def get(self, timeout: float) -> Event | None:
        if self._ready:
            return self._ready.popleft()
        wait = self._retry_at - time.monotonic()
        if wait > 0:  # Redis was away a moment ago: do not hammer it
            time.sleep(min(wait, timeout))
            return None
        try:
            # socket_timeout=None: a blocking read may legitimately stay silent
            reply = self._client.xread(
                {self._key: self._last_id}, count=_BATCH, block=max(1, int(timeout * 1000))
            )
        except Exception as exc:
            import redis

            if not isinstance(exc, redis.ConnectionError | redis.TimeoutError | OSError):
                raise
            if not self.reconnecting:
                log.warning(
                    "live feed lost Redis; reconnecting",
                    run_id=self.run_id,
                    redis=safe_redis_url(self._url),
                    error=_reason(exc),
                )
            self.reconnecting = True
            self._retry_at = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, _BACKOFF_MAX_S)
            self._client.close()  # drop the dead connection; the next read opens a new one
            return None
        self.reconnecting = False
        self._backoff = _BACKOFF_MIN_S
        for _key, entries in reply or ():
            for entry_id, fields in entries:
                self._last_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                self._ready.append(_parse(fields))
        return self._ready.popleft() if self._ready else None

    def close(self) -> None:
        self._client.close()


def _parse(fields: dict[Any, Any]) -> Event:
    raw = fields.get(_FIELD.encode(), fields.get(_FIELD))
    return parse_event(json.loads(raw))


_buses: dict[str, RedisEventBus] = {}
_lock = threading.Lock()


def redis_bus(url: str | None = None) -> RedisEventBus:
    """The process's Redis bus for ``url`` (default: BOTARMY_REDIS_URL)."""
    from botarmy_nb.settings import get_settings

    settings = get_settings()
    url = url or settings.redis_url
    if not url:
        raise ConfigError("BOTARMY_REDIS_URL is not set: there is no Redis event bus")
    with _lock:
        bus = _buses.get(url)
        if bus is None:
            bus = _buses[url] = RedisEventBus(
                url, maxlen=settings.stream_maxlen, ttl_s=settings.stream_ttl_s
            )
        return bus


def close_redis_buses(timeout: float = 2.0) -> None:
    """Flush and close every Redis bus of this process (worker shutdown, tests)."""
    with _lock:
        buses = list(_buses.values())
        _buses.clear()
    for bus in buses:
        bus.close(timeout)
