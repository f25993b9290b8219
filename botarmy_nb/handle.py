"""The Run handle: status, waiting, cancelling, and the run's data as DataFrames."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botarmy_nb.errors import BotArmyError, RunError, RunTimeoutError
from botarmy_nb.events import TERMINAL_STATUSES, Event
from botarmy_nb.render import summary, summary_html, summary_text
from botarmy_nb.store.records import ArtifactRecord, RunRecord

if TYPE_CHECKING:
    import pandas as pd

    from botarmy_nb.bus.base import LiveFeed, Subscription
    from botarmy_nb.executors.local import LocalExecutor
    from botarmy_nb.store.base import RunStore

__all__ = ["Run"]


class Run:
    """A handle on one run, live or finished; cheap to create, reads the store on demand."""

    def __init__(self, run_id: str, store: RunStore) -> None:
        self.id = run_id
        self._store = store

    def __repr__(self) -> str:
        r = self.record
        return f"<Run {r.name} {r.status} id={r.short_id}>"

    @property
    def _local(self) -> LocalExecutor:
        from botarmy_nb.executors.local import get_local_executor

        return get_local_executor()

    @property
    def record(self) -> RunRecord:
        return self._store.get_run(self.id)

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def _settled(self) -> bool:
        """Ended for good: a terminal status, except a worker's lost run that the workers'
        recovery will resume (attempts left)."""
        from botarmy_nb.settings import get_settings

        record = self.record
        if record.status not in TERMINAL_STATUSES:
            return False
        return not (
            record.status == "lost"
            and record.executor != "local"
            and record.attempts < get_settings().max_attempts
        )

    def wait(self, timeout: float | None = None) -> Run:
        """Block until the run ends (the run itself never blocks the kernel).

        Returns once the run is completed, failed, cancelled or ``lost`` (its owner stopped
        heart-beating; see ``ba.resume``) — a worker's lost run is followed through its
        automatic recovery. Raises RunTimeoutError if ``timeout`` seconds
        pass first (the run goes on), and the store's error if the end of a run of this
        process could not be recorded.
        """
        import concurrent.futures

        future = self._local.future(self.id)
        if future is not None:  # a run of this process: its future says when it ended
            try:
                future.result(timeout=timeout)
            except concurrent.futures.TimeoutError:
                raise RunTimeoutError(
                    f"run {self.id[:8]} still {self.status} after {timeout} s"
                ) from None
            except concurrent.futures.CancelledError:
                pass
            except BotArmyError:
                raise
            except Exception as exc:
                raise RunError(f"run {self.id[:8]} crashed: {exc}") from exc
            return self
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.02
        while not self._settled():  # a run of another process: follow the store and lease
            if deadline is not None and time.monotonic() > deadline:
                raise RunTimeoutError(f"run {self.id[:8]} still {self.status} after {timeout} s")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)
        return self

    def cancel(self, *, grace_s: float = 5.0) -> str:
        """Stop the run wherever it executes: gracefully after the current message, hard
        after ``grace_s``. Returns the status it ended with (or still has, if its owner
        did not answer within the grace periods)."""
        if self._local.cancel(self.id, grace_s=grace_s):
            return self.status
        record = self._store.request_cancel(self.id, "graceful")
        if record.status not in ("running",):
            return record.status
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and not self.done:
            time.sleep(0.05)
        if not self.done:
            self._store.request_cancel(self.id, "hard")
            deadline = time.monotonic() + grace_s
            while time.monotonic() < deadline and not self.done:
                time.sleep(0.05)
        return self.status

    def reply(self, message: str) -> Run:
        """Continue this finished team run with a new message; returns this handle."""
        from botarmy_nb.api import reply

        reply(self.id, message)
        return self

    def answer(self, request_id: str, text: str) -> None:
        """Answer a question the run asked a human (``approve``, ``reject`` or changes),
        from any process; the run goes on. Raises if it was already answered or expired."""
        from botarmy_nb.errors import ConfigError

        if not self._store.answer_hitl(request_id, text):
            state = self._store.hitl_answer(request_id)
            why = "does not exist" if state is None else f"is already {state[0]}"
            raise ConfigError(f"question {request_id[:8]} of run {self.id[:8]} {why}")

    def subscribe(
        self,
        callback: Callable[[Event], None],
        *,
        after_seq: int = 0,
    ) -> Subscription:
        """Deliver the run's events to ``callback`` — its history from the store, then live
        — in seq order, each once, on a thread of its own; also after the run ended."""
        from botarmy_nb.bus.base import Subscription

        return Subscription(
            self._store, self.id, callback, feed=self._feed(), after_seq=after_seq
        ).start()

    def _feed(self) -> LiveFeed | None:
        """A live feed from this process's bus, else Redis when configured, else none
        (the subscription then follows the store)."""
        from botarmy_nb.bus.local import local_bus

        feed = local_bus().feed(self.id)
        if feed is not None:
            return feed
        from botarmy_nb.settings import get_settings

        if get_settings().redis_url:
            from botarmy_nb.bus.redis import redis_bus

            return redis_bus().feed(self.id)
        return None

    # -- data -------------------------------------------------------------------------------

    @property
    def events(self) -> list[Event]:
        return self._store.events(self.id)

    @property
    def messages(self) -> pd.DataFrame:
        from botarmy_nb.store.frames import Filters

        return self._store.frame("messages", Filters(run_ids=[self.id]))

    @property
    def model_calls(self) -> pd.DataFrame:
        from botarmy_nb.store.frames import Filters

        return self._store.frame("model_calls", Filters(run_ids=[self.id]))

    @property
    def artifacts(self) -> pd.DataFrame:
        from botarmy_nb.store.frames import Filters

        return self._store.frame("artifacts", Filters(run_ids=[self.id]))

    def artifact(self, name: str) -> ArtifactRecord:
        """One artifact's latest version by name."""
        from botarmy_nb.errors import NotFoundError, did_you_mean

        found = {a.name: a for a in self._store.artifacts(self.id)}
        if name not in found:
            raise NotFoundError(
                f"run {self.id[:8]} has no artifact '{name}'" + did_you_mean(name, found)
            )
        return found[name]

    @property
    def hitl(self) -> pd.DataFrame:
        """The questions this run asked a human, with their answers and outcomes."""
        from botarmy_nb.data import hitl

        return hitl(self.id)

    @property
    def steps(self) -> pd.DataFrame:
        """Workflow step boundaries (started / finished / skipped), in order."""
        import pandas as pd

        rows = [
            {
                "seq": e.seq,
                "created_at": e.created_at,
                "step": e.step,
                "label": e.label,
                "phase": e.phase,
                "agent": e.agent,
                "artifact": e.artifact,
                "reason": e.reason,
            }
            for e in self.events
            if e.type == "step"
        ]
        frame = pd.DataFrame(
            rows,
            columns=["seq", "created_at", "step", "label", "phase", "agent", "artifact", "reason"],
        )
        frame["phase"] = frame["phase"].astype("category")
        return frame

    def export_artifacts(self, directory: str | Path = ".") -> list[Path]:
        """Write the run's documents under ``directory``: a template's document goes to
        its ``output.filename`` (``docs/prd.md``), any other artifact to its name.

        Those names come from YAML files and models: one that would leave ``directory``
        (absolute, ``..``, a symlink out) raises ConfigError before anything is written.
        """
        from botarmy_nb.paths import safe_join

        target = Path(directory).expanduser()
        latest = {a.name: a for a in self._store.artifacts(self.id)}
        core = None
        planned: list[tuple[Path, str]] = []
        for artifact in latest.values():
            relative, what = artifact.name, f"artifact name of run {self.id[:8]}"
            if artifact.template:
                if core is None:
                    core = _bmad_for_export(self.record.spec.get("bmad_roots") or None)
                template = core.template(artifact.template) if core else None
                # the template's own document goes to its output path; repeats such as
                # story-2.md keep their names so they do not overwrite each other
                if (
                    template is not None
                    and template.output_filename
                    and (artifact.name == template.artifact)
                ):
                    relative = template.output_filename
                    what = f"output.filename of template {template.source}"
            planned.append((safe_join(target, relative, what=what), artifact.content))
        for path, content in planned:  # every name checked first: all or nothing written
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        return [path for path, _ in planned]

    @property
    def usage(self) -> dict[str, Any]:
        """Token, call and cost totals. A total is None when any part of it is unknown (a
        provider that sent no usage, a model with no price): never a partial sum."""
        calls = self.model_calls

        def total(column: str, kind: type) -> Any:
            values = calls[column]
            if values.isna().any():
                return None
            return kind(values.sum()) if len(values) else kind(0)

        return {
            "model_calls": len(calls),
            "prompt_tokens": total("prompt_tokens", int),
            "completion_tokens": total("completion_tokens", int),
            "total_tokens": total("total_tokens", int),
            "cost_usd": total("cost_usd", float),
        }

    # -- display ----------------------------------------------------------------------------

    def summary_text(self) -> str:
        record = self.record
        if record.status not in TERMINAL_STATUSES:
            # a snapshot of a moving run would differ on every re-run; the live view has it
            return (
                f"botarmy run {record.name} · in progress · id {record.short_id}\n"
                "(watch the live view, or call .wait())"
            )
        return summary_text(summary(record, self.events))

    def _repr_html_(self) -> str:
        import html

        record = self.record
        if record.status not in TERMINAL_STATUSES:
            return "<pre>" + html.escape(self.summary_text()) + "</pre>"
        return summary_html(summary(record, self.events))

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.summary_text())

    # -- analysis and sharing (#11) ---------------------------------------------------------

    def summary(self, by: str | list[str] = "agent") -> pd.DataFrame:
        """Per agent (or ``model``, ``step``…): turns, requests, retries, fallbacks, errors,
        tokens, cost and latency percentiles, with an ``(all)`` row. Totals with any unknown
        part are ``<NA>``."""
        from botarmy_nb.analysis.summary import summarize

        return summarize(self.model_calls, by=by, messages=self.messages, total=True)

    @property
    def plot(self) -> Any:
        """Charts of this run: ``run.plot.timeline()``, ``.tokens()``, ``.cost()``,
        ``.latency()`` (Altair charts: interactive in JupyterLab, ``.save("x.png")``)."""
        from botarmy_nb.analysis.plots import RunPlots

        return RunPlots(self)

    def export(self, path: str | Path | None = None) -> Path:
        """Write the run as one bundle file (request, events, model calls, artifacts,
        cassette; no secrets) that ``ba.import_run`` restores into any database."""
        from botarmy_nb.analysis.bundle import export_run

        return export_run(self, path)

    def to_markdown(self, path: str | Path | None = None) -> str:
        """The transcript and the artifacts as one readable Markdown document (also
        written to ``path`` when given)."""
        from botarmy_nb.analysis.bundle import to_markdown

        text = to_markdown(self)
        if path is not None:
            Path(path).expanduser().write_text(text, encoding="utf-8")
        return text


def _bmad_for_export(roots: list[str] | None) -> Any:
    """The BMAD core that knows a run's templates: the author's folders when they exist
    here, else this machine's search path; None if neither loads (names are kept then)."""
    from botarmy_nb.bmad.loader import load_bmad
    from botarmy_nb.errors import ConfigError

    for candidate in (roots, None) if roots else (None,):
        try:
            return load_bmad(candidate)
        except ConfigError:
            continue
    return None
