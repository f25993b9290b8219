"""The run view's controls: Stop / Kill, and the answer box of a human-in-the-loop question.

Clicks arrive on the kernel's thread; whatever blocks (cancelling waits for the run,
answering writes to the store) runs on a thread of its own, so the kernel stays free.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import ipywidgets as widgets

from botarmy_nb.render import markdown_html

__all__ = ["HitlPanel", "RunControls", "in_background"]

STOP_GRACE_S = 30.0  # Stop: after the current message; hard only if that takes longer
KILL_GRACE_S = 0.5  # Kill: hard at once


def in_background(name: str, work: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    return thread


class RunControls:
    """Stop (graceful, then hard after a grace period) and Kill (hard) for one run."""

    def __init__(self, cancel: Callable[[float], str]) -> None:
        self._cancel = cancel
        self.stop = widgets.Button(
            description="Stop", icon="stop", tooltip="stop after the current message"
        )
        self.kill = widgets.Button(
            description="Kill", icon="times", button_style="danger", tooltip="stop now"
        )
        self.note = widgets.HTML("")
        self.stop.on_click(lambda _b: self._request(STOP_GRACE_S, "stopping after this message…"))
        self.kill.on_click(lambda _b: self._request(KILL_GRACE_S, "stopping now…"))
        self.box = widgets.HBox([self.stop, self.kill, self.note])

    def enable(self, on: bool) -> None:
        """Buttons on (a run to stop) or off (a view whose run is not started yet)."""
        self.stop.disabled = self.kill.disabled = not on

    def _request(self, grace_s: float, saying: str) -> None:
        self.stop.disabled = True
        if grace_s <= KILL_GRACE_S:
            self.kill.disabled = True
        self.note.value = f"<small>{html.escape(saying)}</small>"

        def work() -> None:
            try:
                status = self._cancel(grace_s)
            except Exception as exc:  # shown, never raised into the kernel
                self.note.value = f"<small style='color:#d62728'>{html.escape(str(exc))}</small>"
                self.stop.disabled = self.kill.disabled = False
                return
            self.note.value = f"<small>{html.escape(status)}</small>"

        in_background("botarmy-cancel", work)

    def ended(self) -> None:
        self.box.layout.display = "none"


class HitlPanel:
    """The question a run asks a human, with Approve / Reject / Amend and its options.

    The widgets are made on the first question (most runs ask none).
    """

    def __init__(self, answer: Callable[[str, str], None]) -> None:
        self._answer = answer
        self.box = widgets.VBox(layout=widgets.Layout(display="none"))
        self._request_id: str | None = None
        self._made = False

    def _make(self) -> None:
        self.prompt = widgets.HTML("")
        self.approve = widgets.Button(description="Approve", button_style="success")
        self.reject = widgets.Button(description="Reject", button_style="warning")
        self.text = widgets.Textarea(
            placeholder="changes you want (Amend sends them)",
            layout=widgets.Layout(width="60%", height="4em"),
        )
        self.amend = widgets.Button(description="Amend")
        self.options = widgets.HBox([])
        self.status = widgets.HTML("")
        self.approve.on_click(lambda _b: self._send("approve"))
        self.reject.on_click(lambda _b: self._send("reject"))
        self.amend.on_click(lambda _b: self._send(self.text.value.strip()))
        self.box.children = [
            self.prompt,
            widgets.HBox([self.approve, self.reject, self.options]),
            widgets.HBox([self.text, self.amend]),
            self.status,
        ]
        self._made = True

    def show(self, request: dict[str, Any] | None) -> None:
        """Show ``request`` (the view's ``hitl`` header fact), or hide when None."""
        if request is None:
            self._request_id = None
            self.box.layout.display = "none"
            return
        if request["id"] == self._request_id:
            return
        if not self._made:
            self._make()
        expires = request.get("expires")
        until = (
            f" · answer by {datetime.fromtimestamp(expires, UTC):%H:%M:%S} UTC" if expires else ""
        )
        self.prompt.value = (
            "<div style='border-left:3px solid #bcbd22;padding-left:8px'>"
            f"<b>question from {html.escape(request.get('agent') or 'the run')}</b>"
            f"<small>{until}</small>{markdown_html(request['prompt'], limit=4000)}</div>"
        )
        extra = [o for o in request.get("options") or [] if o.lower() not in ("approve", "reject")]
        buttons = []
        for option in extra:
            button = widgets.Button(description=option[:40], tooltip=option)
            button.on_click(lambda _b, o=option: self._send(o))
            buttons.append(button)
        self.options.children = buttons
        self.text.value = ""
        self.status.value = ""
        self._enable(True)
        self._request_id = request["id"]  # last: a click before this finds no question
        self.box.layout.display = "flex"

    def _enable(self, on: bool) -> None:
        for w in (self.approve, self.reject, self.amend, self.text, *self.options.children):
            w.disabled = not on

    def _send(self, text: str) -> None:
        request_id = self._request_id
        if request_id is None:
            return
        if not text:
            self.status.value = "<small>write the changes first, then Amend</small>"
            return
        self._enable(False)
        self.status.value = f"<small>sending “{html.escape(text[:80])}”…</small>"

        def work() -> None:
            try:
                self._answer(request_id, text)
            except Exception as exc:  # expired or answered elsewhere: say so
                self.status.value = f"<small style='color:#d62728'>{html.escape(str(exc))}</small>"
                return
            self.status.value = "<small>sent: the run goes on</small>"

        in_background("botarmy-answer", work)
