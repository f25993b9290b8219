"""Questions to a human: asked as events, answered from any process through the store."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import Any

from botarmy_nb.engine.recorder import RunRecorder
from botarmy_nb.events import HitlRequestEvent, HitlResponseEvent, utcnow

__all__ = ["ask_human"]

_POLL_S = 0.2


async def ask_human(
    recorder: RunRecorder,
    *,
    agent: str,
    prompt: str,
    options: list[str],
    default: str,
    timeout_s: float | None,
    control: Any = None,
) -> tuple[str, str]:
    """Ask, wait for an answer (``run.answer``, the run view, another kernel) up to
    ``timeout_s``, and record the outcome. Returns (response, outcome): outcome is
    ``answered``, ``expired`` (nobody answered in time: ``default`` was used) or
    ``default`` (no human attached)."""
    request_id = uuid.uuid4().hex
    expires = None if timeout_s is None else utcnow() + timedelta(seconds=timeout_s)
    recorder.emit(
        HitlRequestEvent(
            run_id=recorder.run_id,
            agent=agent,
            request_id=request_id,
            prompt=prompt,
            options=options,
            expires_at=expires,
        )
    )
    if timeout_s is None:
        response, outcome = default, "default"
    else:
        recorder.flush()  # the question must be in the store before anyone can answer it
        await recorder.drain()
        response, outcome = await _wait(recorder, request_id, default, timeout_s, control)
    recorder.emit(
        HitlResponseEvent(
            run_id=recorder.run_id,
            agent="human" if outcome == "answered" else "workflow",
            request_id=request_id,
            response=response,
            outcome=outcome,  # type: ignore[arg-type]
        )
    )
    return response, outcome


async def _wait(
    recorder: RunRecorder, request_id: str, default: str, timeout_s: float, control: Any
) -> tuple[str, str]:
    store = recorder.store
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if control is not None and control.cancel_requested:
            raise asyncio.CancelledError
        answer = await asyncio.to_thread(store.hitl_answer, request_id)
        if answer is not None and answer[0] == "answered":
            return answer[1] or "", "answered"
        await asyncio.sleep(_POLL_S)
    if await asyncio.to_thread(store.expire_hitl, request_id, default):
        return default, "expired"
    answer = await asyncio.to_thread(store.hitl_answer, request_id)  # answered at the wire
    return (answer[1] or "", "answered") if answer else (default, "expired")
