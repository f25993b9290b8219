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
from botarmy_nb.store.sql import SqlRunStore

if TYPE_CHECKING:
    import pandas as pd

    from botarmy_nb.executors.bus import Subscription
    from botarmy_nb.executors.local import LocalExecutor

__all__ = ["Run"]


class Run:
    """A handle on one run, live or finished; cheap to create, reads the store on demand."""

    def __init__(
        self, run_id: str, store: SqlRunStore, executor: LocalExecutor | None = None
    ) -> None:
        self.id = run_id
        self._store = store
        self._executor = executor

    def __repr__(self) -> str:
        r = self.record
        return f"<Run {r.name} {r.status} id={r.short_id}>"

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

    def wait(self, timeout: float | None = None) -> Run:
        """Block until the run ends (the run itself never blocks the kernel).

        Raises RunTimeoutError if ``timeout`` seconds pass first (the run goes on), and the
        run's own error if it could not be executed or recorded.
        """
        import concurrent.futures

        future = self._executor.future(self.id) if self._executor else None
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
        while not self.done:  # a run of another process: follow the store
            if deadline is not None and time.monotonic() > deadline:
                raise RunTimeoutError(f"run {self.id[:8]} still {self.status} after {timeout} s")
            time.sleep(0.05)
        return self

    def cancel(self, *, grace_s: float = 5.0) -> str:
        """Stop the run: gracefully after the current message, hard after ``grace_s``."""
        if self._executor is not None and self._executor.cancel(self.id, grace_s=grace_s):
            return self.status
        if not self.done:
            self._store.mark_finished(self.id, "cancelled", stop_reason="cancelled by the user")
        return self.status

    def subscribe(
        self,
        callback: Callable[[Event], None],
        *,
        after_seq: int = 0,
    ) -> Subscription | None:
        """Live events of an active run of this process (None if it is not running here)."""
        if self._executor is None:
            return None
        return self._executor.bus.subscribe(self.id, callback, after_seq=after_seq)

    # -- data -------------------------------------------------------------------------------

    @property
    def events(self) -> list[Event]:
        return self._store.events(self.id)

    @property
    def messages(self) -> pd.DataFrame:
        from botarmy_nb.store.frames import messages_frame

        return messages_frame(self._store, [self.id])

    @property
    def model_calls(self) -> pd.DataFrame:
        from botarmy_nb.store.frames import model_calls_frame

        return model_calls_frame(self._store, [self.id])

    @property
    def artifacts(self) -> pd.DataFrame:
        from botarmy_nb.store.frames import artifacts_frame

        return artifacts_frame(self._store, [self.id])

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
                    from botarmy_nb.bmad.loader import load_bmad

                    core = load_bmad(self.record.spec.get("bmad_roots") or None)
                template = core.template(artifact.template)
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
        """Token, call and cost totals (cost NaN when a price is unknown)."""
        calls = self.model_calls
        return {
            "model_calls": len(calls),
            "prompt_tokens": int(calls["prompt_tokens"].sum()),
            "completion_tokens": int(calls["completion_tokens"].sum()),
            "total_tokens": int(calls["total_tokens"].sum()),
            "cost_usd": float(calls["cost_usd"].sum(min_count=1)) if len(calls) else 0.0,
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
