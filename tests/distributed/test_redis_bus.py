"""The Redis Streams bus on a dedicated redis-server: feeds read the stream from its start
then block for more, streams stay bounded and expire after their run, Redis restarts."""

from __future__ import annotations

from typing import Any

import redis as redis_py
from dist_services import RedisServer, wait_until

from botarmy_nb.bus.redis import RedisEventBus, safe_redis_url, stream_key
from botarmy_nb.events import MessageEvent, StatusEvent

RUN = "d" * 32


def _message(seq: int) -> MessageEvent:
    return MessageEvent(run_id=RUN, seq=seq, agent="writer", content=f"m{seq}")


def _drain(feed: Any, count: int) -> list[int]:
    got: list[int] = []

    def more() -> bool:
        event = feed.get(0.2)
        if event is not None:
            got.append(event.seq)
        return len(got) >= count

    wait_until(more, 20, f"{count} events on the feed", interval=0)
    return got


def test_a_feed_reads_the_stream_from_its_start_then_live(redis_server: RedisServer) -> None:
    bus = RedisEventBus(redis_server.url(), maxlen=100, ttl_s=60)
    for seq in (1, 2, 3):
        bus.publish(_message(seq))
    assert bus.flush(10)
    feed = bus.feed(RUN)
    assert _drain(feed, 3) == [1, 2, 3]
    bus.publish(_message(4))
    bus.publish(StatusEvent(run_id=RUN, seq=5, status="completed"))
    assert _drain(feed, 2) == [4, 5]
    assert bus.flush(10)
    client = redis_py.Redis.from_url(redis_server.url())
    assert 0 < client.ttl(stream_key(RUN)) <= 60  # expires after its run ended
    feed.close()
    bus.close()


def test_streams_stay_bounded_and_a_resumed_run_starts_a_clean_one(
    redis_server: RedisServer,
) -> None:
    bus = RedisEventBus(redis_server.url(), maxlen=100, ttl_s=60)
    for seq in range(1, 1001):
        bus.publish(_message(seq))
    assert bus.flush(10)
    client = redis_py.Redis.from_url(redis_server.url())
    assert client.xlen(stream_key(RUN)) < 300  # MAXLEN ~ 100 trims in whole nodes
    bus.reset(RUN)
    bus.publish(_message(1001))
    assert bus.flush(10)
    assert client.xlen(stream_key(RUN)) == 1
    bus.close()


def test_publishing_outlives_a_redis_restart(redis_server: RedisServer) -> None:
    bus = RedisEventBus(redis_server.url(), maxlen=1000, ttl_s=60)
    feed = bus.feed(RUN)
    bus.publish(_message(1))
    assert _drain(feed, 1) == [1]
    redis_server.stop()
    bus.publish(_message(2))  # held while Redis is away; never blocks the caller
    assert not bus.flush(0.3)
    assert feed.get(0.2) is None and feed.reconnecting
    redis_server.start()
    assert bus.flush(20)
    assert _drain(feed, 1) == [2]
    assert not feed.reconnecting
    bus.close()


def test_redis_urls_are_shown_without_their_password() -> None:
    assert safe_redis_url("redis://:hunter22@cache:6379/0") == "redis://:***@cache:6379/0"
    assert safe_redis_url("rediss://me:pw1234@[::1]:6380/2") == "rediss://me:***@[::1]:6380/2"
    assert safe_redis_url("redis://cache:6379/0") == "redis://cache:6379/0"
