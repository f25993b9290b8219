"""A run started in one real kernel is attached from a second kernel — also after that
kernel restarts — and its live events arrive there (history first, then live)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_kernel import SETUP, execute, value

pytestmark = pytest.mark.kernel

REDIS_URL = os.environ.get("BOTARMY_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        from conftest import service_unavailable

        service_unavailable("Redis", str(exc).splitlines()[0])


def _start(env: dict[str, str]) -> tuple[Any, Any]:
    from jupyter_client.manager import start_new_kernel

    return start_new_kernel(kernel_name="python3", env=env, cwd=str(Path.cwd()))


@pytest.fixture
def kernels(tmp_path: Path) -> Iterator[tuple[Any, Any, Any]]:
    _redis_or_skip()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTARMY_")}
    env.update(BOTARMY_HOME=str(tmp_path / "home"), BOTARMY_REDIS_URL=REDIS_URL)
    km_a, kc_a = _start(env)
    km_b, kc_b = _start(env)
    try:
        yield kc_a, (km_b, kc_b), env
    finally:
        for km, kc in ((km_a, kc_a), (km_b, kc_b)):
            kc.stop_channels()
            km.shutdown_kernel(now=True)


ATTACH = """
import botarmy_nb as ba
seen = []
sub = ba.get_run(RUN_ID).subscribe(seen.append)
"""


def _until(kc: Any, expression: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = value(kc, expression)
        if answer == "True":
            return answer
        time.sleep(0.2)
    raise AssertionError(f"never true: {expression}")


def test_a_second_kernel_attaches_live_and_again_after_a_restart(kernels) -> None:  # type: ignore[no-untyped-def]
    kc_a, (km_b, kc_b), _env = kernels
    slow = SETUP.replace("asyncio.sleep(0.25)", "asyncio.sleep(0.8)")  # time to watch it live
    assert not [o for o in execute(kc_a, slow) if o["msg_type"] == "error"]
    execute(kc_a, "import botarmy_nb as ba")
    execute(kc_a, "run = ba.run('Plan', team='review-graph', model='slow:scripted')")
    run_id = value(kc_a, "run.id").strip("'")
    execute(kc_b, ATTACH.replace("RUN_ID", repr(run_id)))
    # live: kernel B sees events while kernel A's run is still going
    _until(kc_b, "any(e.type == 'message' and e.agent != 'user' for e in seen)")
    assert value(kc_a, "run.status") == "'running'"
    _until(kc_b, "sub.ended.is_set()", timeout=120)
    stored = value(kc_a, "[e.seq for e in run.events]")
    assert value(kc_b, "[e.seq for e in seen]") == stored  # each once, in order
    assert value(kc_b, "seen[-1].status") == "'completed'"

    km_b.restart_kernel(now=True)  # a fresh kernel: re-attach gets the whole history
    kc_b.wait_for_ready(timeout=60)
    execute(kc_b, ATTACH.replace("RUN_ID", repr(run_id[:8])))
    _until(kc_b, "sub.ended.is_set()")
    assert value(kc_b, "[e.seq for e in seen]") == stored
