"""The run view: what ``%%botarmy`` shows while a run goes, and the output it leaves.

Events come from ``Run.subscribe`` (the run's whole history, then live, on the
subscription's thread) into a :class:`~botarmy_nb.notebook.cards.Transcript`; one
flusher thread per view sends only what changed, at most ten times a second, to the
:class:`~botarmy_nb.notebook.feed.FeedWidget`. Nothing here runs on the run's loop.

When the run ends the view leaves a static output that a saved notebook keeps:

* the live output (shown with a ``display_id``) is replaced, in its own cell, by the
  whole transcript as HTML — its text/plain stays the same line, so nbval, which sees
  only the first ``display_data`` of an output, compares equal text;
* a cell that waits for the run (``view.join()``, what ``--wait`` does) gets instead a
  new ``display_data`` with the transcript and the summary as text/plain, published
  before the cell ends, so nbval compares the summary; the live output then keeps
  only its text line.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from botarmy_nb.events import TERMINAL_STATUSES, Event, StatusEvent, StepEvent
from botarmy_nb.log import get_logger
from botarmy_nb.notebook.cards import Changes, RunFacts, Transcript
from botarmy_nb.render import summary, summary_html, summary_text

if TYPE_CHECKING:
    from botarmy_nb.handle import Run
    from botarmy_nb.store.records import RunRecord

__all__ = ["FALLBACK_CLASS", "LiveView", "run_facts"]

RECONNECTING = "reconnecting…"
log = get_logger("notebook")
FALLBACK_CLASS = "botarmy-view-fallback"  # notebooks/sanitize.cfg matches this class


def run_facts(record: RunRecord) -> RunFacts:
    """Names, roles and the progress total (a team's turn limit) from the run's spec."""
    spec = record.spec or {}
    team = spec.get("team") if isinstance(spec.get("team"), dict) else {}
    roles = {
        str(a.get("name")): str(a.get("role") or "")
        for a in (team or {}).get("agents", [])
        if isinstance(a, dict)
    }
    if record.workflow:
        return RunFacts(record.name, f"workflow {record.workflow}", is_workflow=True)
    if record.template:
        return RunFacts(record.name, f"template {record.template}")
    termination = (team or {}).get("termination") or {}
    limit = termination.get("max_messages")
    total = (
        spec.get("max_turns")
        or (team or {}).get("max_turns")
        or (limit - 1 if isinstance(limit, int) and limit > 1 else None)
    )
    return RunFacts(record.name, f"team {record.team or '-'}", total=total, roles=roles)


def _workflow_steps(record: RunRecord) -> int | None:
    if not record.workflow:
        return None
    from botarmy_nb.bmad.loader import load_bmad

    workflow = load_bmad((record.spec or {}).get("bmad_roots") or None).workflows.get(
        record.workflow
    )
    return None if workflow is None else len(workflow.steps)


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    return get_ipython()


class LiveView:
    """A run's live view: header, progress, message cards, Stop/Kill, questions.

    >>> view = LiveView(run).start()   # in a notebook cell
    >>> view.display()                 # shown here; the transcript stays when it ends
    >>> view.join()                    # optional: block until the run ended (--wait)

    ``LiveView(name=...)`` is a view shown before its run exists ("starting…", buttons
    off), so a cell shows it at once; :meth:`attach` gives it the run and starts it.
    """

    min_interval_s = 0.1  # at most ten updates a second

    def __init__(self, run: Run | None = None, *, name: str | None = None) -> None:
        import ipywidgets as widgets

        from botarmy_nb.notebook.controls import HitlPanel, RunControls
        from botarmy_nb.notebook.feed import FeedWidget

        if run is None and name is None:
            raise TypeError("LiveView needs a run, or the name of the run it will show")
        self.run: Run | None = run
        self.record: RunRecord | None = None
        self.name = name or ""
        facts = RunFacts(self.name, "starting…")
        if run is not None:
            self.record = run.record
            self.name = self.record.name
            facts = run_facts(self.record)
        self.transcript = Transcript(facts)
        self._lock = threading.Condition()
        self._dirty = False
        self._terminal = False
        self._first_push = True
        self._closed = False
        self._steps_known = False
        self._ended = threading.Event()  # the final state was pushed and the output left
        self._final_lock = threading.Lock()
        self._joined = False
        self._final_shown = False
        self._display_id: str | None = None
        self._cell_parent: dict[str, Any] | None = None
        self.final_html: str | None = None
        self.final_text: str | None = None
        self.feed = FeedWidget(self.name, self._want)
        self.controls = RunControls(self._cancel)
        self.controls.enable(run is not None)
        self.hitl = HitlPanel(self._answer)
        self.widget = widgets.VBox([self.feed, self.controls.box, self.hitl.box])
        self._subscription: Any = None
        self._flusher = threading.Thread(target=self._flush_loop, daemon=True)
        self._text_line = f"botarmy live view of run {self.name}"

    # -- API ----------------------------------------------------------------------------------

    @property
    def text_line(self) -> str:
        """The output's text/plain (what nbval compares): fixed when it is first shown."""
        return self._text_line

    def start(self) -> LiveView:
        """Subscribe to the run: its whole history from the store, then live events."""
        if self.run is None:
            raise RuntimeError("this view has no run yet: attach(run) starts it")
        self._flusher.name = f"botarmy-view-{self.run.id[:8]}"
        self._flusher.start()
        self._subscription = self.run.subscribe(self._on_event)
        return self

    def attach(self, run: Run) -> LiveView:
        """Give a view shown before its run existed that run, and start it."""
        self.run = run
        self.record = run.record
        with self._lock:
            self.transcript.facts = facts = run_facts(self.record)
            self.transcript.head.update(name=facts.name, what=facts.what, total=facts.total)
            self.transcript.head["unit"] = "steps" if facts.is_workflow else "turns"
        self.controls.enable(True)
        return self.start()

    def discard(self) -> None:
        """Take a view whose run never started out of the cell (its cell raised)."""
        from IPython.display import update_display

        self.widget.close()
        if self._display_id is not None:
            update_display({"text/plain": ""}, raw=True, display_id=self._display_id)

    def mimebundle(self) -> dict[str, Any]:
        """The widget, with an HTML and a text fallback for front-ends without widgets."""
        data = dict(self.widget._repr_mimebundle_() or {})
        data["text/html"] = (
            f"<div class='{FALLBACK_CLASS}'><i>botarmy run {_esc(self.name)} was "
            "running when this output was saved; its transcript is left here when it ends."
            "</i></div>"
        )
        data["text/plain"] = self.text_line
        return data

    def display(self) -> None:
        """Show the view in the current cell; its final transcript replaces it there."""
        from IPython.display import display

        shell = _shell()
        publisher = getattr(shell, "display_pub", None)
        parent = getattr(publisher, "parent_header", None)
        self._cell_parent = dict(parent) if parent else None
        self._display_id = f"botarmy-view-{uuid.uuid4().hex}"
        display(self.mimebundle(), raw=True, display_id=self._display_id)

    def join(self, timeout: float | None = None) -> bool:
        """Block until the run ended and its final output is in this cell (``--wait``).

        Returns False if ``timeout`` passed first (the run goes on).
        """
        with self._final_lock:
            self._joined = True
        if not self._ended.wait(timeout):
            return False
        from IPython.display import display, update_display

        with self._final_lock:
            if self._final_shown:
                return True
            self._final_shown = True
            if self._display_id is not None:
                update_display(
                    {
                        "text/html": f"<div class='{FALLBACK_CLASS}'></div>",
                        "text/plain": self.text_line,
                    },
                    raw=True,
                    display_id=self._display_id,
                )
            display(self.final_bundle(wrapper="botarmy-transcript"), raw=True)
        return True

    def final_bundle(self, *, wrapper: str) -> dict[str, Any]:
        """The static output of an ended run: the transcript as HTML, the summary as text."""
        return {
            "text/html": f"<div class='{wrapper}'>{self.final_html or ''}</div>",
            "text/plain": self.final_text or self.text_line,
        }

    def close(self) -> None:
        """Stop updating (the run goes on)."""
        if self._subscription is not None:
            self._subscription.close()
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    def _cancel(self, grace_s: float) -> str:
        assert self.run is not None  # the buttons are off until the run is attached
        return self.run.cancel(grace_s=grace_s)

    def _answer(self, request_id: str, text: str) -> None:
        assert self.run is not None
        self.run.answer(request_id, text)

    # -- events (the subscription's thread) ---------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, StepEvent) and not self._steps_known:
            self._steps_known = True  # the workflow is loaded (and cached) by now
            try:
                total = _workflow_steps(self.record)
            except Exception:  # a core that no longer loads: progress without a total
                total = None
            with self._lock:
                self.transcript.facts.total = total
                self.transcript.head["total"] = total
        with self._lock:
            self.transcript.apply(event)
            self._dirty = True
            if isinstance(event, StatusEvent) and event.status in TERMINAL_STATUSES:
                self._terminal = True
            self._lock.notify_all()

    # -- pushing (the view's own thread) ------------------------------------------------------

    def _flush_loop(self) -> None:
        try:
            while True:
                with self._lock:
                    while not (self._dirty or self._closed):
                        self._lock.wait(timeout=1.0)
                        self._note_reconnecting_locked()
                    if self._closed and not self._dirty:
                        return
                    terminal = self._terminal
                    self._send_changes_locked()
                    hitl = self.transcript.head.get("hitl")
                self.hitl.show(hitl)
                if terminal:
                    self._finish()
                    return
                time.sleep(self.min_interval_s)
        except Exception:  # a broken front-end link must not take the kernel with it
            log.warning("live view stopped", run_id=self.run.id, exc_info=True)
            self._ended.set()

    def _note_reconnecting_locked(self) -> None:
        """Say "reconnecting…" while the live feed's server is away (never a traceback)."""
        away = self._subscription is not None and self._subscription.reconnecting
        shown = self.transcript.head.get("note") == RECONNECTING
        if away and not shown:
            self._note_before = self.transcript.head.get("note")
            self.transcript.head["note"] = RECONNECTING
            self._dirty = True
        elif shown and not away:
            self.transcript.head["note"] = getattr(self, "_note_before", None)
            self._dirty = True

    def _send_changes_locked(self) -> None:
        self._dirty = False
        changes = self.transcript.take_changes()
        if self._first_push:  # a front-end model starts from nothing: say where cards start
            self._first_push = False
            if changes.cards_from is None:
                changes.cards_from = 0
        self.feed.push(changes.message())

    def _want(self, have: int) -> None:
        """A browser view missed changes: send it everything from ``have`` cards on."""
        with self._lock:
            self.transcript.take_changes()  # the snapshot below covers what was pending
            self._dirty = False
            snapshot = self.transcript.snapshot()
            start = have if 0 <= have <= len(snapshot.cards) else 0
            self.feed.push(
                Changes(
                    cards_from=start,
                    cards=snapshot.cards[start:],
                    head=snapshot.head,
                    typing=snapshot.typing,
                ).message()
            )

    def _finish(self) -> None:
        try:
            self.record = record = self.run.record
            facts = summary(record, self.transcript.events)
            self.final_html = self.transcript.static_html(summary_html(facts))
            self.final_text = summary_text(facts)
        except Exception:  # the store went away: the transcript alone still helps
            log.warning("live view could not read the run's end", run_id=self.run.id, exc_info=True)
            self.final_html = self.transcript.static_html("")
        self.controls.ended()
        self.hitl.show(None)
        with self._final_lock:
            if not self._joined and self._display_id is not None:
                self._leave_in_cell()
            self._ended.set()

    def _leave_in_cell(self) -> None:
        """Replace the live output by the transcript, in the cell that showed it."""
        from IPython.display import update_display

        shell = _shell()
        publisher = getattr(shell, "display_pub", None)
        token = None
        if self._cell_parent and hasattr(publisher, "set_thread_parent"):
            token = publisher.set_thread_parent(self._cell_parent)  # type: ignore[union-attr]
        try:
            bundle = self.final_bundle(wrapper=FALLBACK_CLASS)
            bundle["text/plain"] = self.text_line  # what nbval saw when the cell ran
            update_display(bundle, raw=True, display_id=self._display_id)
        finally:
            if token is not None:
                publisher.reset_thread_parent(token)  # type: ignore[union-attr]


def _esc(text: str) -> str:
    import html

    return html.escape(text)
