"""Execute one claimed run: build its team, stream it, record events, artifacts, checkpoints.

Every path out of :func:`execute_run` ends the run in the store, or — when the store
cannot be written at all — stops renewing its lease, so the run is found ``lost``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import structlog
from autogen_agentchat.base import TaskResult
from autogen_agentchat.messages import ModelClientStreamingChunkEvent, TextMessage

from botarmy_nb.engine.build import build_team, resolve_agent_models
from botarmy_nb.engine.lease import RunControl, lease_keeper
from botarmy_nb.engine.normalize import normalize
from botarmy_nb.engine.recorder import Publish, RunRecorder
from botarmy_nb.engine.request import RunRequest
from botarmy_nb.engine.workflow import run_bmad
from botarmy_nb.errors import BotArmyError, OwnershipLostError, StoreError
from botarmy_nb.events import (
    ArtifactEvent,
    ChunkEvent,
    ErrorEvent,
    Event,
    MessageEvent,
    ModelCallEvent,
    StatusEvent,
    utcnow,
)
from botarmy_nb.log import get_logger, redact
from botarmy_nb.models.cassette import CassetteRecorder
from botarmy_nb.paths import safe_join
from botarmy_nb.store.base import RunStore
from botarmy_nb.store.records import RunRecord

__all__ = ["CHECKPOINT_VERSION", "RunControl", "execute_run"]

log = get_logger("engine")
CHECKPOINT_VERSION = 1


def _artifacts(
    request: RunRequest, messages: list[MessageEvent], run_id: str, artifacts_dir: Path
) -> list[ArtifactEvent]:
    said = [m for m in messages if m.kind in ("text", "thought", "stop") and m.agent != "user"]
    out: list[ArtifactEvent] = []
    assert request.team is not None
    for spec in request.team.artifacts:
        chosen = [m for m in said if spec.agent is None or m.agent == spec.agent]
        if not chosen:
            continue
        content = chosen[-1].content
        lines = content.rstrip().splitlines()
        if lines and lines[-1].strip() == request.team.termination.text:
            content = "\n".join(lines[:-1]).rstrip()  # the stop word is control, not content
        path = safe_join(artifacts_dir / run_id, spec.name, what=f"artifact '{spec.name}'")
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


class _CallOrder:
    """Holds model-call events until the message they produced, so a run's seq follows
    causality on every Python (the scheduler may let the stream yield a message after the
    next agent's call has already finished)."""

    def __init__(self, recorder: RunRecorder, speakers: set[str]) -> None:
        self.recorder, self.speakers = recorder, speakers
        self._held: list[ModelCallEvent] = []

    def hold(self, event: ModelCallEvent) -> None:
        self._held.append(event)

    def release(self, agent: str | None = None) -> None:
        """Emit the calls of ``agent`` and of non-speakers (a selector); all if None."""
        keep: list[ModelCallEvent] = []
        for event in self._held:
            if agent is None or event.agent == agent or event.agent not in self.speakers:
                self.recorder.emit(event)
            else:
                keep.append(event)
        self._held = keep


class _TeamRun:
    """The team part of a run: build the AutoGen team, stream it, record what it says."""

    def __init__(
        self,
        run_id: str,
        request: RunRequest,
        recorder: RunRecorder,
        publish: Publish,
        control: RunControl,
        store: RunStore,
    ) -> None:
        self.run_id, self.request, self.recorder = run_id, request, recorder
        self.publish, self.control, self.store = publish, control, store
        self.built: Any = None
        self.final_checkpoint: tuple[int, dict[str, Any]] | None = None  # see run()
        assert request.team is not None
        self.calls = _CallOrder(recorder, set(request.team.agent_names))

    async def checkpoint(self) -> tuple[int, dict[str, Any]]:
        started = time.perf_counter()
        state = dict(await self.built.team.save_state())
        # save_state() dumps the whole team on the run loop and grows with the run: space
        # checkpoints so that they cost at most ~5% of the loop, however long the run
        spent = time.perf_counter() - started
        if spent > 0.002:  # a cheap state does not need spacing
            self.recorder.flush_interval_s = max(self.request.checkpoint_interval_s, 20 * spent)
        return self.recorder.seq, {"version": CHECKPOINT_VERSION, "team": state}

    async def run(
        self,
        artifacts_dir: Path,
        *,
        resume_from: dict[str, Any] | None,
        followup: str | None = None,
        resumed: bool = False,
    ) -> str | None:
        request, recorder, control, run_id = self.request, self.recorder, self.control, self.run_id
        assert request.team is not None
        chains = resolve_agent_models(request.team, request.default_model, request.agent_models)
        cassette = CassetteRecorder(Path(request.record_path)) if request.record_path else None
        built = self.built = build_team(
            request.team,
            run_id=run_id,
            chains=chains,
            emit=self.calls.hold,
            max_turns=request.max_turns,
            recorder=cassette,
        )
        control.external = built.external
        if control.cancel_requested:
            built.external.set()
        labels = {name: str(spec) for name, spec in built.models.items()}
        messages: list[MessageEvent] = []
        task: str | None = request.task
        task_stored = False
        if resume_from is not None:
            await built.team.load_state(resume_from)
            messages = [e for e in self.store.events(run_id) if isinstance(e, MessageEvent)]
            task = followup  # None: the team goes on from its saved state
            if followup is None:  # the message cap counts what this segment said already
                built.external.resume_at(_said_in_segment(messages))
        elif resumed:  # lost before its first checkpoint: the team starts again
            stored = self.store.events(run_id)
            task_stored = any(isinstance(e, MessageEvent) and e.kind == "task" for e in stored)
        if task is not None and not task_stored:
            # the task (or the follow-up) is the first thing said, whatever the team does next
            kind = "feedback" if followup is not None else "task"
            recorder.emit(MessageEvent(run_id=run_id, agent="user", kind=kind, content=task))
        skip_task = task is not None
        reason: str | None = None
        # batches end at message boundaries, each with the team's state: a run resumed
        # from its last checkpoint repeats nothing that was stored
        recorder.autoflush = False
        recorder.flush_interval_s = request.checkpoint_interval_s
        stream = built.team.run_stream(
            task=TextMessage(content=task, source="user") if task is not None else None,
            cancellation_token=control.token,
        )
        # aclosing: if anything below raises, the team's stream is closed, not abandoned
        async with contextlib.aclosing(stream):
            async for item in stream:
                if isinstance(item, TaskResult):
                    reason = item.stop_reason
                    continue
                if isinstance(item, ModelClientStreamingChunkEvent):  # live only
                    self.publish(ChunkEvent(run_id=run_id, agent=item.source, content=item.content))
                    continue
                if skip_task and item.source == "user" and isinstance(item, TextMessage):
                    skip_task = False  # recorded above, before anything could race it
                    continue
                event = normalize(item, run_id=run_id, models=labels)
                if event is None:
                    continue
                self.calls.release(event.agent)
                recorder.emit(event)
                if isinstance(event, MessageEvent):
                    messages.append(event)
                    if recorder.due():
                        recorder.flush(checkpoint=await self.checkpoint())
        self.calls.release()
        # the conversation's end is stored with the state that produced it, in the run's
        # last transaction (``_finish``): one write at the end instead of two awaited ones.
        # Nothing is flushed before it, so a run taken over earlier resumes from its last
        # mid-run checkpoint without repeating a stored message.
        self.final_checkpoint = await self.checkpoint()
        # nothing of the team is needed past here: let it go before the end write is
        # awaited, so that no collection meanwhile promotes it to an older generation
        self.built = control.external = None
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


def _pending_followup(store: RunStore, run_id: str, request: RunRequest) -> str | None:
    """The follow-up message this execution is for, if the run was continued (each
    follow-up starts with a ``continued`` status event)."""
    done = sum(
        1 for e in store.events(run_id) if isinstance(e, StatusEvent) and e.status == "continued"
    )
    return request.followups[done] if done < len(request.followups) else None


def _said_in_segment(messages: list[MessageEvent]) -> int:
    """The chat messages of the conversation's current segment: from its opening message
    (the task, or the last follow-up) on, as the team's message cap counts them."""
    opening = [
        i for i, m in enumerate(messages) if m.agent == "user" and m.kind in ("task", "feedback")
    ]
    return len(messages) - (opening[-1] if opening else 0)


def _resume_state(store: RunStore, run_id: str) -> dict[str, Any] | None:
    checkpoint = store.latest_checkpoint(run_id)
    if checkpoint is None or "team" not in checkpoint.state:
        return None
    version = checkpoint.state.get("version", 1)
    if version > CHECKPOINT_VERSION:
        raise BotArmyError(
            f"run {run_id[:8]}: its checkpoint has version {version}, newer than this "
            f"botarmy-nb understands ({CHECKPOINT_VERSION}); upgrade botarmy-nb to resume it"
        )
    return dict(checkpoint.state["team"])


async def execute_run(
    run_id: str,
    store: RunStore,
    *,
    publish: Publish,
    owner: str,
    control: RunControl | None = None,
    artifacts_dir: Path | None = None,
    record: RunRecord | None = None,
) -> str:
    """Run a run this process has claimed (as ``owner``) to its end; returns the final
    status. Never raises for run failures; raises the store's error if the end of the run
    could not be recorded (the run is then found ``lost`` when its lease runs out).

    ``record``: the run as this process just registered or claimed it, which saves reading
    it back; without it the run is read from the store.
    """
    from botarmy_nb.settings import get_settings

    control = control or RunControl()
    control.loop = asyncio.get_running_loop()
    artifacts_dir = artifacts_dir or get_settings().artifacts_dir
    try:
        if record is None or record.id != run_id:
            # ours (claimed, its lease is ours); read off the loop, which other runs share
            record = await asyncio.to_thread(store.get_run, run_id, expire=False)
    except BotArmyError as exc:  # cannot even read the run: close the live view, report it
        publish(StatusEvent(run_id=run_id, status="failed", reason=str(exc)))
        raise
    recorder = RunRecorder(store, run_id, publish, owner=owner, start_seq=record.last_seq)
    keeper = lease_keeper()
    keeper.track(run_id, store, control)
    structlog.contextvars.bind_contextvars(run_id=run_id)
    status, reason, error = "completed", None, None
    team: _TeamRun | None = None
    try:
        request = RunRequest.from_stored(record.spec)
        resumed = record.last_seq > 0
        recorder.emit(
            StatusEvent(
                run_id=run_id,
                status="running",
                reason=(
                    f"resumed after seq {record.last_seq} (attempt {record.attempts})"
                    if resumed
                    else None
                ),
                truncate_after=record.last_seq if resumed else None,
            )
        )
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
            team = _TeamRun(run_id, request, recorder, publish, control, store)
            state = _resume_state(store, run_id) if resumed else None
            followup = _pending_followup(store, run_id, request) if resumed else None
            if followup is not None:
                recorder.emit(
                    StatusEvent(run_id=run_id, status="continued", reason="a new message")
                )
            reason = await team.run(
                artifacts_dir, resume_from=state, followup=followup, resumed=resumed
            )
        if control.cancel_requested:
            status = "cancelled"
            # AutoGen's own reason ("External termination requested") says how, not why
            reason = control.stop_reason or "cancelled by the user"
    except asyncio.CancelledError:
        status, reason = "cancelled", control.stop_reason or "cancelled by the user"
    except BotArmyError as exc:
        status, error = "failed", redact(str(exc))
    except Exception as exc:  # a run failure must end the run cleanly, never kill the loop
        status, error = "failed", _reason(exc)
        log.info("run failed", error=error, exc_info=True)
    finally:
        structlog.contextvars.unbind_contextvars("run_id")
    if control.ownership_lost:
        status = "lost"
    if status != "completed":
        control.token.cancel()  # nothing of the team may outlive the run
    try:
        return await _finish(
            store, recorder, team, status=status, reason=reason, error=error, publish=publish
        )
    finally:
        keeper.untrack(run_id)


async def _finish(
    store: RunStore,
    recorder: RunRecorder,
    team: _TeamRun | None,
    *,
    status: str,
    reason: str | None,
    error: str | None,
    publish: Publish,
) -> str:
    """Record the end of the run, then tell live viewers (only once the store has it)."""
    run_id = recorder.run_id
    if team is not None:
        team.calls.release()  # calls whose message never came (a failed agent) still count
    truncate: int | None = None
    try:
        await recorder.drain()
    except OwnershipLostError:
        status = "lost"
    except BaseException as exc:
        # an earlier batch could not be written: end the run right after what is stored
        error = error or f"the run store failed: {exc}"
        status, truncate = "failed", recorder.rewind()
    if status == "lost":  # another process owns the run now: write nothing, say nothing
        log.warning("run given up: another process owns it now")
        return status
    if error:
        reason = error
        recorder.emit(
            ErrorEvent(run_id=run_id, error_type="RunError", message=error), autoflush=False
        )
    if status == "cancelled" and not reason:
        reason = "cancelled by the user"
    final: Event = recorder.emit(
        StatusEvent(run_id=run_id, status=status, reason=reason, truncate_after=truncate),  # type: ignore[arg-type]
        publish=False,
        autoflush=False,
    )
    fields = {
        "status": status,
        "finished_at": utcnow(),
        "stop_reason": reason,
        "error": error,
        "cancel_requested": None,
    }
    # the team's final state rides with the end of the run; after a rewind it would name
    # events that are not stored, so it is dropped (the run is failed, not resumed from it)
    checkpoint = team.final_checkpoint if team is not None and truncate is None else None
    if team is not None:
        team.final_checkpoint = None  # the writer holds it until it is stored, no longer
    try:
        recorder.flush(run_update=fields, checkpoint=checkpoint)
        del checkpoint
        await recorder.drain()
    except OwnershipLostError:
        return "lost"
    except BaseException as exc:  # the store itself failed: say so live; the lease ends it
        assert isinstance(final, StatusEvent)
        final.status, final.reason = "failed", f"the run store failed: {exc}"
        publish(final)
        log.warning("could not record the end of the run", error=str(exc))
        raise StoreError(f"run {run_id[:8]}: could not record its end: {exc}") from exc
    publish(final)  # viewers hear of the end only once the store has all of it
    log.info("run finished", status=status)
    return status
