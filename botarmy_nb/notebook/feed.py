"""The run view's front-end part: header, progress and message feed, updated by deltas.

Standard ipywidgets re-send a whole value on every change (DESIGN §5), so this one widget
is an anywidget that receives only what changed — new cards, changed header facts,
streamed text — as custom messages, and keeps them in the browser. Cards arrive in the
short wire form of :mod:`botarmy_nb.notebook.cards` and are built here as the same DOM
:func:`~botarmy_nb.notebook.cards.card_html` writes: names, times and header facts with
``textContent`` only; message bodies are HTML escaped or sanitized in the kernel.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

from botarmy_nb.notebook.cards import COLORS

__all__ = ["FeedWidget"]

# The browser side. The model keeps the feed (``initialize``), so a view drawn late —
# or a second view of the same output — shows all of it without asking the kernel,
# which cannot answer while a cell blocks (``--wait``). A gap (messages sent before the
# model existed, a page reload) is filled by asking the kernel for everything.
_ESM = r"""
// one store per widget model, shared by its views (the model objects handed to
// initialize and render are different wrappers: the key is the synced ``key`` trait)
const STORES = new Map();

function store(model) {
  const key = model.get("key");
  if (!STORES.has(key)) {
    STORES.set(key, { cards: [], head: {}, typing: {}, listeners: new Set(), heard: false });
  }
  return STORES.get(key);
}

function initialize({ model }) {
  const s = store(model);
  model.on("msg:custom", (msg, buffers) => {
    if (msg.from !== undefined) {
      if (msg.from > s.cards.length) { model.send({ want: s.cards.length }); return; }
      s.heard = true;
      s.cards.length = msg.from;
      // the cards travel as one binary frame of compact JSON (FeedWidget.push)
      const cards = JSON.parse(new TextDecoder().decode(buffers[0]));
      for (const c of cards) s.cards.push(c);
    }
    if (msg.h) Object.assign(s.head, msg.h);
    if (msg.t) {
      for (const [agent, d] of Object.entries(msg.t)) {
        if (d === null) { delete s.typing[agent]; continue; }
        const before = (s.typing[agent] || { text: "" }).text.slice(0, d[0]);
        s.typing[agent] = { text: before + d[1], total: d[2] };
      }
    }
    for (const f of s.listeners) f(msg);
  });
  // nothing heard yet (a page reloaded, or the first changes came before this model):
  // ask for everything; the kernel answers when it is idle
  setTimeout(() => { if (!s.heard) model.send({ want: 0 }); }, 1500);
}

function node(tag, cls, text) {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text !== undefined) n.textContent = text;
  return n;
}

// a card's time, as cards.py _time_text writes it
function when(t) {
  if (t === null || t === undefined) return "";
  return t < 60 ? `+${t.toFixed(2)} s` : `+${Math.floor(t / 60)}m ${(t % 60).toFixed(2)} s`;
}

// one card from its wire form (cards.py: Card, card_html): the same DOM, text as text
function cardNode(c) {
  const kind = c[0][0], color = c[0].slice(1);
  if (kind === "l") {
    const line = node("div", `ba-line ba-${color}`, `${c[1]} `);
    line.append(node("small", "ba-t", when(c[2])));
    return line;
  }
  if (kind === "p") {
    const d = node("details", "ba-prompt"), sum = node("summary");
    sum.append(node("small", "",
      `prompt to the next agent · ${c[1].toLocaleString("en-US")} characters · ${when(c[2])}`));
    const body = node("div", "ba-md");
    body.innerHTML = c[3];  // sanitized in the kernel (render.markdown_html)
    d.append(sum, body);
    return d;
  }
  const card = node("div", `ba-card ba-${color}`), meta = node("div", "ba-meta");
  const title = node("b", "", c[1]);
  const message = kind === "m" || kind === "s";
  if (c[2]) title.append(" ", node("small", "", message ? `· ${c[2]}` : c[2]));
  meta.append(title, " ", node("small", "ba-t", when(c[3])));
  card.append(meta);
  const holder = document.createElement("div");
  // escaped or sanitized in the kernel (cards.py); "s": one paragraph, sent without its <p>
  holder.innerHTML = kind === "s" ? `<p>${c[4]}</p>` : c[4];
  if (message) { holder.className = "ba-md"; card.append(holder); }
  else card.append(...holder.childNodes);
  return card;
}

function fmtSeconds(s) {
  s = Math.max(0, Math.floor(s));
  const m = Math.floor(s / 60), r = s % 60;
  return m ? `${m}m ${String(r).padStart(2, "0")}s` : `${r}s`;
}

function render({ model, el }) {
  const s = store(model);
  el.classList.add("botarmy-view");
  const top = document.createElement("div"); top.className = "ba-top";
  const title = document.createElement("b");
  const status = document.createElement("span"); status.className = "ba-status";
  const facts = document.createElement("span"); facts.className = "ba-facts";
  top.append(title, " · ", status, " ", facts);
  const bar = document.createElement("div"); bar.className = "ba-bar";
  const fill = document.createElement("div"); fill.className = "ba-fill"; bar.append(fill);
  const note = document.createElement("div"); note.className = "ba-note";
  const feed = document.createElement("div"); feed.className = "ba-feed";
  const typing = document.createElement("div"); typing.className = "ba-typing";
  el.append(top, bar, note, feed, typing);
  let shown = 0;
  const COLORS = { completed: "#2ca02c", failed: "#d62728", cancelled: "#7f7f7f",
                   lost: "#ff7f0e", running: "#1f77b4", queued: "#7f7f7f" };

  function drawHead() {
    const h = s.head;
    title.textContent = `botarmy run ${h.name || model.get("run_name") || ""}`;
    status.textContent = h.status || "starting…";
    status.style.color = COLORS[h.status] || "";
    const parts = [];
    if (h.what) parts.push(h.what);
    if (h.step) parts.push(`step ${h.step}`);
    if (h.agent) parts.push(`agent ${h.agent}`);
    const unit = h.unit || "turns";
    const done = (unit === "turns" ? h.messages : h.done) || 0;
    parts.push(h.total ? `${done}/${h.total} ${unit}` : `${done} ${unit}`);
    parts.push(`${h.messages || 0} message${h.messages === 1 ? "" : "s"}`);
    parts.push(h.tokens === null ? "tokens unknown" : `${h.tokens || 0} tokens`);
    parts.push(h.cost === null ? "cost unknown" : `$${(h.cost || 0).toFixed(4)}`);
    if (h.t0) {
      const end = h.t1 || Date.now() / 1000;
      parts.push(fmtSeconds(end - h.t0));
    }
    facts.textContent = parts.join(" · ");
    const running = !["completed", "failed", "cancelled", "lost"].includes(h.status);
    if (h.total) {
      fill.style.width = `${Math.min(100, (100 * done) / h.total)}%`;
      bar.classList.remove("ba-indeterminate");
    } else {
      fill.style.width = running ? "30%" : "100%";
      bar.classList.toggle("ba-indeterminate", running);
    }
    fill.style.background = COLORS[h.status] || "#1f77b4";
    note.textContent = h.note || "";
  }

  function drawCards() {
    const stick = feed.scrollTop + feed.clientHeight >= feed.scrollHeight - 40;
    while (feed.children.length > s.cards.length) feed.lastChild.remove();
    // a card changed in place (a repeated error counted): redraw from the first change
    for (let i = 0; i < feed.children.length; i++) {
      if (feed.children[i].__ba !== s.cards[i]) {
        while (feed.children.length > i) feed.lastChild.remove();
        break;
      }
    }
    for (let i = feed.children.length; i < s.cards.length; i++) {
      const d = node("div", "ba-item");
      d.append(cardNode(s.cards[i]));
      d.__ba = s.cards[i];
      feed.append(d);
    }
    shown = s.cards.length;
    if (stick) feed.scrollTop = feed.scrollHeight;
  }

  function drawTyping() {
    typing.replaceChildren();
    for (const [agent, t] of Object.entries(s.typing)) {
      const d = document.createElement("div");
      const b = document.createElement("b"); b.textContent = `${agent} is typing… `;
      const pre = document.createElement("pre");
      pre.textContent = t.text + (t.total > t.text.length ? ` … (${t.total} characters)` : "");
      d.append(b, pre);
      typing.append(d);
    }
  }

  const onChange = (msg) => {
    if (msg.from !== undefined || shown !== s.cards.length) drawCards();
    if (msg.h) drawHead();
    if (msg.t) drawTyping();
  };
  s.listeners.add(onChange);
  drawHead(); drawCards(); drawTyping();
  const tick = setInterval(() => { if (s.head.t0 && !s.head.t1) drawHead(); }, 1000);
  return () => { clearInterval(tick); s.listeners.delete(onChange); };
}

export default { initialize, render };
"""

_CSS = """
.botarmy-view { font-size: 13px; line-height: 1.4; }
.botarmy-view .ba-top { margin-bottom: 3px; }
.botarmy-view .ba-facts { color: #666; }
.botarmy-view .ba-bar { height: 4px; background: #eee; border-radius: 2px; overflow: hidden; }
.botarmy-view .ba-fill { height: 100%; width: 0; transition: width .3s; }
.botarmy-view .ba-indeterminate .ba-fill { animation: ba-slide 1.5s infinite linear; }
@keyframes ba-slide { from { margin-left: -30%; } to { margin-left: 100%; } }
.botarmy-view .ba-note { color: #ff7f0e; }
.botarmy-view .ba-feed { max-height: 28em; overflow-y: auto; overflow-x: hidden;
  overflow-wrap: anywhere; border: 1px solid var(--jp-border-color2, #ddd);
  padding: 0 6px; margin-top: 4px; contain: content; }
.botarmy-view .ba-feed:empty { display: none; }
.botarmy-view .ba-feed pre, .botarmy-view .ba-typing pre {
  white-space: pre-wrap; overflow-wrap: anywhere; margin: 2px 0; }
.botarmy-view .ba-md p { margin: 2px 0; }
.botarmy-view .ba-md table { border-collapse: collapse; }
.botarmy-view .ba-md td, .botarmy-view .ba-md th { border: 1px solid #ccc; padding: 1px 4px; }
.botarmy-view .ba-typing { opacity: .6; max-height: 8em; overflow: hidden; }
.botarmy-view .ba-card { border-left: 3px solid var(--ba-c); margin: 6px 0; padding: 2px 8px; }
.botarmy-view .ba-card > .ba-meta > b { color: var(--ba-c); }
.botarmy-view .ba-line { color: var(--ba-c); font-size: 85%; margin: 2px 0; }
.botarmy-view .ba-t { color: #888; }
.botarmy-view .ba-prompt { margin: 2px 0 2px 12px; color: #555; }
""" + "".join(f".botarmy-view .ba-{k} {{ --ba-c: {v}; }}\n" for k, v in COLORS.items())


class FeedWidget(anywidget.AnyWidget):  # type: ignore[misc]
    """Header, progress bar, message feed and streamed preview of one run.

    The kernel calls :meth:`push` with the changes; a browser view that misses some asks
    for everything again, answered through ``on_want``.
    """

    _esm = _ESM
    _css = _CSS
    run_name = traitlets.Unicode("").tag(sync=True)
    key = traitlets.Unicode("").tag(sync=True)  # names this widget's store in the page

    def __init__(self, run_name: str, on_want: Callable[[int], None]) -> None:
        super().__init__(run_name=run_name, key=uuid.uuid4().hex)
        self._on_want = on_want
        self.on_msg(self._received)

    def push(self, message: dict[str, Any]) -> None:
        """Send one change (:meth:`~botarmy_nb.notebook.cards.Changes.message`); its cards
        go as a binary frame of compact JSON, which nothing re-escapes on the way."""
        if not message:
            return
        buffers = None
        if "cards" in message:
            message = dict(message)
            cards = message.pop("cards")
            buffers = [json.dumps(cards, separators=(",", ":"), ensure_ascii=False).encode()]
        self.send(message, buffers)

    def _received(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and isinstance(content.get("want"), int):
            self._on_want(content["want"])
