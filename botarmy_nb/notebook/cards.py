"""A run's transcript as the run view shows it: events folded into cards and header
facts. Pure (no widgets, no IPython): the live view sends its changes, the saved output
renders it whole.

A card is kept in its wire form, a short list (see :func:`card_html`): the live view sends
it as is and the browser builds the DOM (names and times as text, bodies as the HTML
sanitized here), so a one-line message costs little more than its own bytes on the wire
(benchmark B8). :func:`card_html` renders the same card as HTML for the saved output.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botarmy_nb.events import (
    TERMINAL_STATUSES,
    ArtifactEvent,
    ChunkEvent,
    ErrorEvent,
    Event,
    HitlRequestEvent,
    HitlResponseEvent,
    MessageEvent,
    ModelCallEvent,
    StatusEvent,
    StepEvent,
    ToolCallEvent,
)
from botarmy_nb.render import markdown_html

__all__ = [
    "COLLAPSE_CHARS",
    "COLORS",
    "MESSAGE_LIMIT",
    "PROMPT_LIMIT",
    "Card",
    "Changes",
    "RunFacts",
    "Transcript",
    "card_html",
    "inline_styles",
]

MESSAGE_LIMIT = 20_000  # characters of one message a card shows; the rest is in run.messages
PROMPT_LIMIT = 500  # workflow prompts repeat whole documents: a card shows their start
COLLAPSE_CHARS = 1_200  # longer messages start collapsed
TYPING_LIMIT = 1_500  # streamed preview characters per agent (then only a count)
# Cards carry colour classes (short on the wire); the CSS of the live view and the inline
# styles of the saved output (:meth:`Transcript.static_html`) give them their colours.
COLORS = {
    "c0": "#1f77b4", "c1": "#ff7f0e", "c2": "#2ca02c", "c3": "#9467bd", "c4": "#8c564b",
    "c5": "#e377c2", "c6": "#17becf",
    "cu": "#7f7f7f",  # the user
    "cq": "#bcbd22",  # questions and answers
    "cd": "#17becf",  # documents
    "ce": "#d62728",  # errors, failures
    "co": "#ff7f0e",  # lost, truncated, resumed
    "cg": "#555555",  # steps, tools, other status lines
}  # fmt: skip
_AGENT_CLASSES = ("c0", "c1", "c2", "c3", "c4", "c5", "c6")
_STATUS_CLASSES = {"failed": "ce", "lost": "co"}
STATUS_COLORS = {
    "queued": "#7f7f7f",
    "running": "#1f77b4",
    "completed": "#2ca02c",
    "failed": "#d62728",
    "cancelled": "#7f7f7f",
    "lost": "#ff7f0e",
}
_esc = html.escape
_ONE_PARAGRAPH = re.compile(r"<p>((?:(?!</?p\b).)*)</p>", re.S)

# The wire form of one card; its first item says what it is and its colour class:
#   ["m" + colour, title, meta, time, markdown HTML]   a message (meta after "· ", the
#                                                       body in .ba-md)
#   ["s" + colour, title, meta, time, inline HTML]     a message of one paragraph (in <p>)
#   ["f" + colour, title, meta, time, HTML]            another framed card (question, error)
#   ["l" + colour, text, time]                         a one-line status, step or tool card
#   ["p", characters, time, markdown HTML]             a workflow prompt, collapsed
# Titles, meta and texts are plain text, times seconds since the run's first event (or
# null); HTML parts are escaped or sanitized here. The short forms keep a one-line
# message's card within a few dozen bytes of its text (benchmark B8).
Card = list[Any]


def card_html(card: Card) -> str:
    """One card as HTML (the saved output; the browser builds the same DOM)."""
    kind, color = card[0][0], card[0][1:]
    if kind == "l":
        _, text, at = card
        return (
            f"<div class='ba-line ba-{color}'>{_esc(text)}"
            f" <small class='ba-t'>{_time_text(at)}</small></div>"
        )
    if kind == "p":
        _, chars, at, body = card
        return (
            "<details class='ba-prompt'>"
            f"<summary><small>prompt to the next agent · {chars:,} characters"
            f" · {_time_text(at)}</small></summary><div class='ba-md'>{body}</div></details>"
        )
    _, title, meta, at, body = card
    if kind == "s":
        body = f"<p>{body}</p>"
    if kind in "ms":
        body = f"<div class='ba-md'>{body}</div>"
        meta = f"· {meta}" if meta else ""
    meta_html = f" <small>{_esc(meta)}</small>" if meta else ""
    return (
        f"<div class='ba-card ba-{color}'><div class='ba-meta'><b>{_esc(title)}{meta_html}</b>"
        f" <small class='ba-t'>{_time_text(at)}</small></div>{body}</div>"
    )


@dataclass
class RunFacts:
    """What the view knows about the run before its events: names and the progress total."""

    name: str
    what: str = ""  # "team writers-room", "workflow greenfield-service"
    is_workflow: bool = False
    total: int | None = None  # steps of the workflow, or the team's turn limit
    roles: dict[str, str] = field(default_factory=dict)  # agent → role


@dataclass
class Changes:
    """What changed since the last call of :meth:`Transcript.take_changes`.

    ``cards_from``/``cards``: drop the cards from that index on, then append ``cards``
    (usually ``cards_from`` is the old length: a pure append), in their wire form.
    ``head``: the header facts that changed. ``typing``: agent → (offset, text, total) to
    splice into the streamed preview, or None to remove it.
    """

    cards_from: int | None = None
    cards: list[Card] = field(default_factory=list)
    head: dict[str, Any] = field(default_factory=dict)
    typing: dict[str, tuple[int, str, int] | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.cards_from is not None or bool(self.head) or bool(self.typing)

    def message(self) -> dict[str, Any]:
        """The wire form the front-end applies (only the parts that changed)."""
        out: dict[str, Any] = {}
        if self.cards_from is not None:
            out["from"], out["cards"] = self.cards_from, self.cards
        if self.head:
            out["h"] = self.head
        if self.typing:
            out["t"] = {k: (None if v is None else list(v)) for k, v in self.typing.items()}
        return out


def _stamp(at: datetime) -> float:
    return round(at.timestamp(), 3)


def _offset(at: datetime, start: datetime | None) -> float | None:
    """Seconds since the run's first event, as a card carries them."""
    if start is None:
        return None
    return round(max(0.0, (at - start).total_seconds()), 2)


def _time_text(seconds: float | None) -> str:
    """A card's time as shown: "+1.25 s", "+2m 5.00 s" (feed.js formats it the same)."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"+{seconds:.2f} s"
    return f"+{int(seconds // 60)}m {seconds % 60:.2f} s"


class Transcript:
    """Folds a run's events (in seq order) into cards and header facts."""

    def __init__(self, facts: RunFacts) -> None:
        self.facts = facts
        self._reset()
        self._sent_cards: list[Card] = []
        self._dirty_from = 0  # cards before this index are as sent
        self._sent_head: dict[str, Any] = {}
        self._sent_typing: dict[str, tuple[int, int]] = {}  # agent → (shown, total)

    def _reset(self) -> None:
        self.events: list[Event] = []
        self.wire: list[Card] = []
        self._card_seqs: list[int] = []
        self._palette: dict[str, str] = {}
        self._pending_tokens: dict[str, int | None] = {}
        self._last_error: tuple[str, int] | None = None  # (text, repeats) of the last card
        self.typing: dict[str, str] = {}
        self.start: datetime | None = None
        self.head: dict[str, Any] = {
            "name": self.facts.name,
            "what": self.facts.what,
            "status": "queued",
            "step": None,
            "agent": None,
            "done": 0,
            "total": self.facts.total,
            "unit": "steps" if self.facts.is_workflow else "turns",
            "messages": 0,
            "calls": 0,
            "tokens": 0,
            "cost": 0.0,
            "t0": None,
            "t1": None,
            "note": None,
            "hitl": None,
        }
        self._steps_done: set[int] = set()

    # -- folding ----------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        if isinstance(event, ChunkEvent):
            agent = event.agent or "?"
            self.typing[agent] = self.typing.get(agent, "") + event.content
            return
        if isinstance(event, StatusEvent) and event.truncate_after is not None:
            self._truncate(event.truncate_after)
        self.events.append(event)
        self._fold(event)

    def _truncate(self, after: int) -> None:
        """Forget what was shown past ``after`` (published live, never stored)."""
        kept = [e for e in self.events if e.seq <= after]
        dropped = len(self.events) - len(kept)
        self._reset()
        self._dirty_from = 0
        for e in kept:
            self.events.append(e)
            self._fold(e)
        if dropped:
            self._card(
                [
                    "lco",
                    f"⚠ {dropped} event{'s' if dropped != 1 else ''} after #{after} were shown "
                    "live but never stored (their process died); they are no longer shown",
                    None,
                ],
                after,
            )

    def _fold(self, e: Event) -> None:
        h = self.head
        if self.start is None:
            self.start = e.created_at
            h["t0"] = _stamp(e.created_at)
        if isinstance(e, StatusEvent):
            h["status"] = e.status
            if e.status == "running" and h["t0"] is None:
                h["t0"] = _stamp(e.created_at)
            if e.status in TERMINAL_STATUSES:
                h["t1"] = _stamp(e.created_at)
                h["hitl"] = None
                self.typing.clear()
            if e.status == "lost":
                h["note"] = "lost: its process stopped; ba.resume() can go on from a checkpoint"
                self._line(f"⚠ run lost{': ' + e.reason if e.reason else ''}", e, "co")
            elif e.truncate_after is not None:
                self._line(f"{e.status} again from checkpoint #{e.truncate_after}", e, "co")
                h["note"] = None
            elif e.status in ("failed", "cancelled") or e.reason:
                color = _STATUS_CLASSES.get(e.status, "cg")
                self._line(f"{e.status}{': ' + e.reason if e.reason else ''}", e, color)
        elif isinstance(e, MessageEvent):
            self._message(e)
        elif isinstance(e, ModelCallEvent):
            h["calls"] += 1
            total = (
                None
                if e.prompt_tokens is None or e.completion_tokens is None
                else e.prompt_tokens + e.completion_tokens
            )
            h["tokens"] = None if h["tokens"] is None or total is None else h["tokens"] + total
            h["cost"] = None if h["cost"] is None or e.cost_usd is None else h["cost"] + e.cost_usd
            self._pending_tokens[e.agent or "?"] = e.completion_tokens
        elif isinstance(e, StepEvent):
            if e.phase == "started":
                h["step"], h["agent"] = f"{e.step} {e.label}", e.agent
            else:
                self._steps_done.add(e.step)
                h["done"] = len(self._steps_done)
            detail = e.artifact if e.phase == "finished" else e.reason
            total = f"/{self.facts.total}" if self.facts.total else ""
            self._line(
                f"step {e.step}{total} · {e.label} · {e.phase}"
                + (f" · {detail}" if detail else ""),
                e,
                "cg",
            )
        elif isinstance(e, HitlRequestEvent):
            h["hitl"] = {
                "id": e.request_id,
                "agent": e.agent,
                "prompt": e.prompt,
                "options": list(e.options),
                "expires": None if e.expires_at is None else _stamp(e.expires_at),
            }
            options = f" <small>({_esc(' / '.join(e.options))})</small>" if e.options else ""
            self._card(
                self._frame(
                    "fcq",
                    f"question from {e.agent or 'the run'}",
                    e,
                    f"<div>{_esc(e.prompt)}{options}</div>",
                ),
                e.seq,
            )
        elif isinstance(e, HitlResponseEvent):
            if h["hitl"] and h["hitl"]["id"] == e.request_id:
                h["hitl"] = None
            label = {
                "answered": "✔ answered",
                "expired": "expired: nobody answered in time, the default was used",
                "default": "no human attached: the default was used",
            }[e.outcome]
            self._card(self._frame("fcq", label, e, f"<div>{_esc(e.response)}</div>"), e.seq)
        elif isinstance(e, ArtifactEvent):
            # the document itself is in run.artifacts (and usually the message above)
            where = f" → {e.path}" if e.path else ""
            self._line(f"document {e.name}{where} ({len(e.content):,} characters)", e, "cd")
        elif isinstance(e, ErrorEvent):
            self._error(e)
        elif isinstance(e, ToolCallEvent):
            names = ", ".join(str(c.get("name", "?")) for c in e.calls)
            self._line(f"tool {e.phase}: {names}", e, "cg")

    def _message(self, e: MessageEvent) -> None:
        h = self.head
        agent = e.agent or "?"
        self.typing.pop(agent, None)
        if e.kind == "prompt":  # the workflow's instructions to the next agent: not an agent
            shown = markdown_html(e.content, limit=PROMPT_LIMIT)
            self._card(["p", len(e.content), _offset(e.created_at, self.start), shown], e.seq)
            return
        if agent != "user":
            h["messages"] += 1
            h["agent"] = agent
            if not self.facts.is_workflow:
                h["done"] = h["messages"]
        color = self._palette.setdefault(
            agent, _AGENT_CLASSES[len(self._palette) % len(_AGENT_CLASSES)]
        )
        if agent == "user":
            color = "cu"
        tokens = self._pending_tokens.pop(agent, 0) if agent != "user" else 0
        meta = []
        role = self.facts.roles.get(agent)
        if role and role != agent:
            meta.append(role)
        if e.kind not in ("text", "task"):
            meta.append(e.kind)
        if tokens is None:
            meta.append("tokens unknown")
        elif tokens:
            meta.append(f"{tokens} tokens")
        if (e.model or "").startswith("scripted"):
            meta.append("scripted")
        body = markdown_html(e.content, limit=MESSAGE_LIMIT)
        long = len(e.content) > COLLAPSE_CHARS or e.content.count("\n") > 30
        if long:
            first = e.content.strip().splitlines()[0][:120] if e.content.strip() else ""
            body = (
                f"<details><summary>{_esc(first)} <small>({len(e.content):,} characters)"
                f"</small></summary>{body}</details>"
            )
        one = _ONE_PARAGRAPH.fullmatch(body)
        kind = "s" if one else "m"
        self._card(
            self._frame(kind + color, agent, e, one[1] if one else body, " · ".join(meta)), e.seq
        )

    def _error(self, e: ErrorEvent) -> None:
        text = f"{e.error_type}: {e.message}"
        if self._last_error and self._last_error[0] == text and self.wire:
            repeats = self._last_error[1] + 1  # the same failure again: count it, once
            self._last_error = (text, repeats)
            self.wire[-1] = self._error_card(text, e, repeats)
            self._dirty_from = min(self._dirty_from, len(self.wire) - 1)
            return
        self._card(self._error_card(text, e, 1), e.seq)
        self._last_error = (text, 1)

    def _error_card(self, text: str, e: Event, repeats: int) -> Card:
        times = f"(×{repeats})" if repeats > 1 else ""
        return self._frame("fce", "error", e, f"<pre>{_esc(text)}</pre>", times)

    def _frame(self, kind: str, title: str, e: Event, body: str, meta: str = "") -> Card:
        """A framed card: ``kind`` is "m"/"s" (a Markdown message) or "f", then its colour."""
        return [kind, title, meta, _offset(e.created_at, self.start), body]

    def _line(self, text: str, e: Event, color: str) -> None:
        self._card(["l" + color, text, _offset(e.created_at, self.start)], e.seq)

    @property
    def cards(self) -> list[str]:
        """The cards as HTML, in order."""
        return [card_html(card) for card in self.wire]

    def _card(self, card: Card, seq: int) -> None:
        self.wire.append(card)
        self._card_seqs.append(seq)
        self._last_error = None

    # -- changes ----------------------------------------------------------------------------

    def take_changes(self) -> Changes:
        """What to send so that a front-end that applied every earlier change is current."""
        changes = Changes()
        sent, now = self._sent_cards, self.wire
        same = min(self._dirty_from, len(sent), len(now))
        while same < min(len(sent), len(now)) and sent[same] == now[same]:
            same += 1  # after a truncation most cards come back the same: keep them
        if same < len(sent) or len(now) > same:
            changes.cards_from, changes.cards = same, now[same:]
            del sent[same:]
            sent.extend(now[same:])
        self._dirty_from = len(now)
        changes.head = {k: v for k, v in self.head.items() if self._sent_head.get(k, ...) != v}
        self._sent_head.update(changes.head)
        for agent in set(self._sent_typing) | set(self.typing):
            text = self.typing.get(agent)
            if text is None:
                if self._sent_typing.pop(agent, None) is not None:
                    changes.typing[agent] = None
                continue
            shown, total = self._sent_typing.get(agent, (0, -1))
            upto = min(len(text), TYPING_LIMIT)
            if upto > shown or total != len(text):
                changes.typing[agent] = (shown, text[shown:upto], len(text))
                self._sent_typing[agent] = (upto, len(text))
        return changes

    def snapshot(self) -> Changes:
        """Everything, for a front-end that starts from nothing."""
        return Changes(
            cards_from=0,
            cards=list(self.wire),
            head=dict(self.head),
            typing={a: (0, t[:TYPING_LIMIT], len(t)) for a, t in self.typing.items()},
        )

    # -- the saved output -------------------------------------------------------------------

    def static_html(self, summary: str) -> str:
        """The whole transcript with the run's summary: plain HTML with inline styles, no
        script, readable without a kernel (JupyterLab, nbviewer, GitHub)."""
        count = len(self.wire)
        return (
            f"{summary}<details open><summary><small>transcript · {count} entries</small>"
            "</summary><div class='ba-feed' style='max-height:32em;overflow:auto;"
            "overflow-wrap:anywhere;border:1px solid #ddd;padding:0 6px'>"
            + inline_styles("".join(self.cards))
            + "</div></details>"
        )


_CARD_HEAD = re.compile(r"<div class='ba-card ba-(c\w)'><div class='ba-meta'><b>")
_LINE = re.compile(r"<div class='ba-line ba-(c\w)'>")


def inline_styles(cards: str) -> str:
    """Cards with their classes turned into inline styles, for pages without our CSS
    (a saved notebook on GitHub or nbviewer). Model text cannot match these patterns:
    every ``<`` in it is escaped."""
    cards = _CARD_HEAD.sub(
        lambda m: (
            f'<div class="ba-card" style="border-left:3px solid {COLORS[m[1]]};margin:6px 0;'
            f'padding:2px 8px"><div class="ba-meta"><b style="color:{COLORS[m[1]]}">'
        ),
        cards,
    )
    cards = _LINE.sub(
        lambda m: f'<div class="ba-line" style="color:{COLORS[m[1]]};font-size:85%;margin:2px 0">',
        cards,
    )
    return cards.replace("<small class='ba-t'>", '<small style="color:#888">').replace(
        "<details class='ba-prompt'>", '<details style="margin:2px 0 2px 12px;color:#555">'
    )
