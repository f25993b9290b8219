"""A model call is abortable through the run's cancellation token, and a finished call is
not kept alive by the callback it left on the token (the token cannot remove callbacks)."""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref

import pytest
from autogen_core import CancellationToken

from botarmy_nb.models.resilient import _abortable


async def _call(token: CancellationToken, seconds: float) -> str:
    with _abortable(token):
        await asyncio.sleep(seconds)
    return "done"


def test_a_cancel_from_another_thread_stops_the_waiting_call() -> None:
    async def main() -> None:
        token = CancellationToken()
        call = asyncio.ensure_future(_call(token, 30))
        await asyncio.sleep(0.05)
        threading.Thread(target=token.cancel).start()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(call, 5)

    asyncio.run(main())


def test_finished_calls_are_not_kept_alive_by_the_token() -> None:
    async def main() -> None:
        token = CancellationToken()
        refs = []
        for _ in range(5):
            task = asyncio.ensure_future(_call(token, 0))
            assert await task == "done"
            refs.append(weakref.ref(task))
            del task
        gc.collect()  # the last one may still be on the loop's books for a moment
        assert [r() for r in refs[:-1]] == [None] * 4
        token.cancel()  # cancelling after the calls ended touches nothing

    asyncio.run(main())
