"""The live view: an ipywidgets panel fed by the run's events, redrawn at most 10 times a second."""

from __future__ import annotations

import html
import threading
import time
from typing import TYPE_CHECKING, Any

from botarmy_nb.events import TERMINAL_STATUSES, ChunkEvent, Event, MessageEvent, StatusEvent
from botarmy_nb.render import event_html, summary, summary_html

if TYPE_CHECKING:
    from botarmy_nb.handle import Run

__all__ = ["LiveView"]

MAX_BLOCKS = 200  # older messages stay in run.messages; the view keeps the tail


class LiveView:
    """Shows a run's conversation as it streams; ends with the run's summary."""

    min_interval_s = 0.1

    def __init__(self, run: Run) -> None:
        import ipywidgets as widgets

        self.run = run
        self._lock = threading.Lock()
        self._blocks: list[str] = []
        self._dropped = 0
        self._palette: dict[str, str] = {}
        self._typing: dict[str, str] = {}  # agent → text streamed so far
        self._messages = 0
        self._last_push = 0.0
        self._timer: threading.Timer | None = None
        self._final = False
        name = html.escape(run.name)
        self.header = widgets.HTML(f"<b>botarmy run {name}</b> · <i>starting…</i>")
        self.body = widgets.HTML("")
        self.widget = widgets.VBox([self.header, self.body])
        self._subscription = None

    def start(self) -> LiveView:
        """Subscribe to the run: its whole history from the store, then live events."""
        self._subscription = self.run.subscribe(self._on_event)
        return self

    def mimebundle(self) -> dict[str, Any]:
        """The widget with a stable text/plain fallback (saved notebooks and nbval see this)."""
        data = dict(self.widget._repr_mimebundle_() or {})
        data["text/plain"] = f"botarmy live view of run {self.run.name}"
        return data

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ChunkEvent):  # streamed tokens: shown until the message lands
            with self._lock:
                self._typing[event.agent or "?"] = (
                    self._typing.get(event.agent or "?", "") + event.content
                )
            self._schedule()
            return
        if isinstance(event, MessageEvent):
            with self._lock:
                self._typing.pop(event.agent or "?", None)
        block = event_html(event, self._palette)
        with self._lock:
            if block is not None:
                self._blocks.append(block)
                if len(self._blocks) > MAX_BLOCKS:
                    self._blocks.pop(0)
                    self._dropped += 1
            if isinstance(event, MessageEvent):
                self._messages += 1
        if isinstance(event, StatusEvent) and event.status in TERMINAL_STATUSES:
            self._finish()
            return
        self._schedule()

    def _schedule(self) -> None:
        with self._lock:
            wait = self.min_interval_s - (time.monotonic() - self._last_push)
            if wait <= 0:
                self._push_locked()
            elif self._timer is None:
                self._timer = threading.Timer(wait, self._flush_timer)
                self._timer.daemon = True
                self._timer.start()

    def _flush_timer(self) -> None:
        with self._lock:
            self._timer = None
            if not self._final:
                self._push_locked()

    def _push_locked(self) -> None:
        self._last_push = time.monotonic()
        dropped = (
            (f"<div><small>… {self._dropped} earlier events: see run.messages</small></div>")
            if self._dropped
            else ""
        )
        typing = "".join(
            f"<div style='opacity:.6'><b>{html.escape(agent)}</b> <i>typing…</i>"
            f"<pre style='white-space:pre-wrap;margin:2px 0'>{html.escape(text)}</pre></div>"
            for agent, text in self._typing.items()
        )
        self.body.value = dropped + "".join(self._blocks) + typing
        self.header.value = (
            f"<b>botarmy run {html.escape(self.run.name)}</b> · "
            f"<i>running</i> · {self._messages} messages"
        )

    def _finish(self) -> None:
        with self._lock:
            self._final = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._push_locked()
            record = self.run.record
            self.header.value = summary_html(summary(record, self.run.events))
