"""Execute one stored run: build its team, stream it, record events, artifacts, checkpoints."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from autogen_agentchat.base import TaskResult
from autogen_agentchat.messages import ModelClientStreamingChunkEvent
from autogen_core import CancellationToken

from botarmy_nb.engine.build import build_team, resolve_agent_models
from botarmy_nb.engine.normalize import normalize
from botarmy_nb.engine.recorder import Publish, RunRecorder
from botarmy_nb.engine.request import RunRequest
from botarmy_nb.engine.termination import RunTermination
from botarmy_nb.engine.workflow import run_bmad
from botarmy_nb.errors import BotArmyError
from botarmy_nb.events import (
    ArtifactEvent,
    ChunkEvent,
    ErrorEvent,
    MessageEvent,
    StatusEvent,
)
from botarmy_nb.log import get_logger, redact
from botarmy_nb.models.cassette import CassetteRecorder
from botarmy_nb.store.sql import SqlRunStore

__all__ = ["RunControl", "execute_run"]

log = get_logger("engine")


@dataclass
class RunControl:
    """Handles a caller (another thread) uses to stop a run; filled in by the running coroutine."""

    loop: asyncio.AbstractEventLoop | None = None
    external: RunTermination | None = None
    token: CancellationToken = field(default_factory=CancellationToken)
    cancel_requested: bool = False

    def request_stop(self) -> None:
        """Graceful: the team stops after the current message."""
        self.cancel_requested = True
        if self.loop is not None and self.external is not None:
            self.loop.call_soon_threadsafe(self.external.set)

    def hard_stop(self) -> None:
        """Abort the model call or tool in flight."""
        self.cancel_requested = True
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.token.cancel)


def _artifacts(
    request: RunRequest, messages: list[MessageEvent], run_id: str, artifacts_dir: Path
) -> list[ArtifactEvent]:
    said = [m for m in messages if m.kind in ("text", "thought", "stop") and m.agent != "user"]
    out: list[ArtifactEvent] = []
    for spec in request.team.artifacts:
        chosen = [m for m in said if spec.agent is None or m.agent == spec.agent]
        if not chosen:
            continue
        content = chosen[-1].content
        lines = content.rstrip().splitlines()
        if lines and lines[-1].strip() == request.team.termination.text:
            content = "\n".join(lines[:-1]).rstrip()  # the stop word is control, not content
        path = artifacts_dir / run_id / spec.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content + "\n", encoding="utf-8")
        out.append(
            ArtifactEvent(
                run_id=run_id,
                agent=chosen[-1].agent,
                name=spec.name,
                content=content,
                format=spec.format,
                path=str(path),
            )
        )
    return out


class _TeamRun:
    """The team part of a run: build the AutoGen team, stream it, record what it says."""

    def __init__(
        self,
        run_id: str,
        request: RunRequest,
        recorder: RunRecorder,
        publish: Publish,
        control: RunControl,
    ) -> None:
        self.run_id, self.request, self.recorder = run_id, request, recorder
        self.publish, self.control = publish, control
        self.built: Any = None

    async def run(self, artifacts_dir: Path) -> str | None:
        request, recorder, control, run_id = (
            self.request,
            self.recorder,
            self.control,
            self.run_id,
        )
        assert request.team is not None
        chains = resolve_agent_models(request.team, request.default_model, request.agent_models)
        cassette = CassetteRecorder(Path(request.record_path)) if request.record_path else None
        built = self.built = build_team(
            request.team,
            run_id=run_id,
            chains=chains,
            emit=recorder.emit,
            max_turns=request.max_turns,
            recorder=cassette,
        )
        control.external = built.external
        if control.cancel_requested:
            built.external.set()
        labels = {name: str(spec) for name, spec in built.models.items()}
        messages: list[MessageEvent] = []
        reason: str | None = None
        last_checkpoint = time.monotonic()
        stream = built.team.run_stream(task=request.task, cancellation_token=control.token)
        # aclosing: if anything below raises, the team's stream is closed, not abandoned
        async with contextlib.aclosing(stream):
            async for item in stream:
                if isinstance(item, TaskResult):
                    reason = item.stop_reason
                    continue
                if isinstance(item, ModelClientStreamingChunkEvent):  # live only
                    self.publish(ChunkEvent(run_id=run_id, agent=item.source, content=item.content))
                    continue
                event = normalize(item, run_id=run_id, models=labels)
                if event is None:
                    continue
                recorder.emit(event)
                if isinstance(event, MessageEvent):
                    messages.append(event)
                    if time.monotonic() - last_checkpoint >= request.checkpoint_interval_s:
                        # at a message boundary, at most once per interval (AutoGen's
                        # state of a running team is as consistent as that boundary)
                        last_checkpoint = time.monotonic()
                        state = dict(await built.team.save_state())
                        recorder.flush(checkpoint=(recorder.seq, state))
        for artifact in _artifacts(request, messages, run_id, artifacts_dir):
            recorder.emit(artifact)
        if cassette is not None and not control.cancel_requested:
            cassette.save()  # a complete run only: a partial cassette would not replay
        return reason


def _reason(exc: BaseException) -> str:
    """One readable line for a failed run. AutoGen re-raises an agent's error as a
    RuntimeError whose text ends in the formatted traceback: keep the part before it."""
    text = str(exc).split("\nTraceback:", 1)[0].strip()
    if not isinstance(exc, RuntimeError) or not text.split(":", 1)[0].isidentifier():
        text = f"{type(exc).__name__}: {text}"
    return redact(text)


async def execute_run(
    run_id: str,
    store: SqlRunStore,
    *,
    publish: Publish,
    control: RunControl | None = None,
    artifacts_dir: Path | None = None,
) -> str:
    """Run a queued run to its end; returns the final status. Never raises for run failures."""
    from botarmy_nb.settings import get_settings

    control = control or RunControl()
    control.loop = asyncio.get_running_loop()
    artifacts_dir = artifacts_dir or get_settings().artifacts_dir
    try:
        record = store.get_run(run_id)
    except BotArmyError as exc:  # cannot even read the run: close the live view, report it
        publish(StatusEvent(run_id=run_id, status="failed", reason=str(exc)))
        raise
    recorder = RunRecorder(store, run_id, publish, start_seq=record.last_seq)
    structlog.contextvars.bind_contextvars(run_id=run_id)
    status, reason, error = "completed", None, None
    built = None
    store_error: BotArmyError | None = None
    try:
        request = RunRequest.model_validate(record.spec)
        recorder.emit(StatusEvent(run_id=run_id, status="running"))
        if record.status == "queued":  # a queued run becomes visibly running at once
            recorder.flush(run_update=store.started_fields(run_id))
        if request.team is None:  # a BMAD-compatible workflow or template
            reason = await run_bmad(
                run_id,
                request,
                store=store,
                recorder=recorder,
                publish=publish,
                control=control,
                artifacts_dir=artifacts_dir,
            )
        else:
            team = _TeamRun(run_id, request, recorder, publish, control)
            reason = await team.run(artifacts_dir)
            built = team.built
        if control.cancel_requested:
            status = "cancelled"
    except asyncio.CancelledError:
        status, reason = "cancelled", "cancelled by the user"
    except BotArmyError as exc:
        status, error = "failed", redact(str(exc))
    except Exception as exc:  # a run failure must end the run cleanly, never kill the loop
        status, error = "failed", _reason(exc)
        log.info("run failed", error=error, exc_info=True)
    finally:
        if status != "completed":
            control.token.cancel()  # nothing of the team may outlive the run
        if error:
            reason = error
            recorder.emit(
                ErrorEvent(run_id=run_id, error_type="RunError", message=error), autoflush=False
            )
        if status == "cancelled" and not reason:
            reason = "cancelled by the user"
        final = recorder.emit(
            StatusEvent(run_id=run_id, status=status, reason=reason),
            publish=False,
            autoflush=False,
        )
        checkpoint = None
        if built is not None and status == "completed":
            try:
                checkpoint = (recorder.seq, dict(await built.team.save_state()))
            except Exception:
                log.warning("final checkpoint failed", exc_info=True)
        try:
            recorder.flush(
                run_update=store.finished_fields(run_id, status, stop_reason=reason, error=error),
                checkpoint=checkpoint,
            )
        except BotArmyError as exc:  # the store itself failed: say so, but end the run
            store_error = exc
            final.status, final.reason = "failed", f"the run store failed: {exc}"
            log.warning("could not record the end of the run", error=str(exc))
        publish(final)  # viewers hear of the end only once the store has all of it
        structlog.contextvars.unbind_contextvars("run_id")
    if store_error is not None:
        raise store_error  # the caller's wait() reports it; the store could not
    log.info("run finished", status=status)
    return status
