"""Pure text/HTML renderings of runs and events (escaped); no IPython imports here.

Text for terminals goes through :func:`terminal_safe`: model output, names from YAML
files and error messages cannot set a window title, write the clipboard (OSC 52) or
move the cursor over earlier lines.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from botarmy_nb.events import (
    ArtifactEvent,
    Event,
    MessageEvent,
    ModelCallEvent,
    StatusEvent,
    StepEvent,
)
from botarmy_nb.store.records import RunRecord

__all__ = [
    "event_html",
    "event_line",
    "markdown_html",
    "mermaid_markdown",
    "summary",
    "summary_html",
    "summary_text",
    "terminal_safe",
]

SCRIPTED_NOTE = "offline scripted model, not a real LLM"
_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


# ESC-introduced sequences (7-bit) and their 8-bit C1 forms, removed whole:
# CSI (ESC [ … final byte), OSC/DCS/SOS/PM/APC strings (up to BEL or ST), and the short
# ESC sequences (charset, RIS reset, save/restore cursor…).
_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI
    r"|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)"  # strings
    r"|\x1b[ -/]*(?![\[\]PX^_])[0-~]"  # short escapes (not an unterminated one above)
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode control picture: ESC → ␛, BEL → ␇
    return "\u2421" if code == 0x7F else f"\\x{code:02x}"


def terminal_safe(text: str) -> str:
    """``text`` with nothing a terminal would act on, except newlines and tabs.

    Complete escape sequences are removed; any other control character is shown as a
    visible stand-in, so an unterminated sequence cannot swallow what follows. ``\\r\\n``
    becomes ``\\n``. Idempotent.

    >>> terminal_safe("\\x1b]52;c;aGk=\\x07ok \\x1b[31mred\\x1b[0m \\x1b]0;title")
    'ok red ␛]0;title'
    """
    text = _SEQUENCE.sub("", text.replace("\r\n", "\n"))
    return _CONTROL.sub(_visible, text)


def _label(model: str | None) -> str:
    if model and model.startswith("scripted"):
        return f"{model} [{SCRIPTED_NOTE}]"
    return model or "?"


def _what(record: RunRecord) -> str:
    if record.workflow:
        return f"workflow {record.workflow}"
    if record.template:
        return f"template {record.template}"
    return f"team {record.team or '-'}"


def summary(record: RunRecord, events: Iterable[Event]) -> dict[str, Any]:
    """The facts a run summary shows, computed from its events."""
    per_agent: Counter[str] = Counter()
    calls = 0
    prompt: int | None = 0
    completion: int | None = 0
    artifacts: list[ArtifactEvent] = []
    models: set[str] = set()
    for e in events:
        if isinstance(e, MessageEvent) and e.agent != "user" and e.kind != "prompt":
            # a workflow's prompts to its agents are not an agent speaking
            per_agent[e.agent or "?"] += 1
            if e.model:
                models.add(e.model)
        elif isinstance(e, ModelCallEvent):
            calls += 1
            # one unknown count makes the total unknown: never a partial sum shown as exact
            prompt = None if prompt is None or e.prompt_tokens is None else prompt + e.prompt_tokens
            completion = (
                None
                if completion is None or e.completion_tokens is None
                else completion + e.completion_tokens
            )
        elif isinstance(e, ArtifactEvent):
            artifacts.append(e)
    return {
        "record": record,
        "per_agent": per_agent,
        "calls": calls,
        "prompt": prompt,
        "completion": completion,
        "artifacts": artifacts,
        "models": sorted(models) or [record.model],
    }


def _tokens(facts: dict[str, Any]) -> str:
    prompt, completion = facts["prompt"], facts["completion"]
    total = None if prompt is None or completion is None else prompt + completion

    def shown(value: int | None) -> str:
        return "unknown" if value is None else str(value)

    return f"tokens {shown(total)} (prompt {shown(prompt)}, completion {shown(completion)})"


def summary_text(facts: dict[str, Any]) -> str:
    r: RunRecord = facts["record"]
    duration = f"{r.duration_s:.2f} s" if r.duration_s is not None else "-"
    lines = [
        f"botarmy run {r.name} · {r.status} · id {r.short_id}",
        f"{_what(r)} · model {', '.join(_label(m) for m in facts['models'])}",
        f"messages {sum(facts['per_agent'].values())} · model calls {facts['calls']} · "
        f"{_tokens(facts)} · {duration}",
    ]
    for agent, count in facts["per_agent"].items():
        lines.append(f"  {agent:<12} {count} message{'s' if count != 1 else ''}")
    if facts["artifacts"]:
        lines.append("artifacts:")
        lines += [f"  {a.name:<20} {a.path}" for a in facts["artifacts"]]
    if r.stop_reason:
        lines.append(f"stop reason: {r.stop_reason}")
    if r.error and r.error != r.stop_reason:
        lines.append(f"error: {r.error}")
    return terminal_safe("\n".join(lines))


def summary_html(facts: dict[str, Any]) -> str:
    esc = html.escape
    r: RunRecord = facts["record"]
    color = {
        "completed": "#2ca02c",
        "failed": "#d62728",
        "cancelled": "#7f7f7f",
        "lost": "#ff7f0e",
    }.get(r.status, "#1f77b4")
    rows = "".join(
        f"<tr><td>{esc(agent)}</td><td>{count}</td></tr>"
        for agent, count in facts["per_agent"].items()
    )
    arts = "".join(
        f"<li><code>{esc(a.name)}</code> <small>{esc(a.path or '')}</small></li>"
        for a in facts["artifacts"]
    )
    duration = f"{r.duration_s:.2f} s" if r.duration_s is not None else "-"
    problem = f"<div style='color:#d62728'>{esc(r.error)}</div>" if r.error else ""
    return (
        "<div class='botarmy-summary'>"
        f"<b>botarmy run {esc(r.name)}</b> · <span style='color:{color}'>{esc(r.status)}</span>"
        f" · <code>{esc(r.short_id)}</code><br>"
        f"{esc(_what(r))} · model "
        f"{esc(', '.join(_label(m) for m in facts['models']))}<br>"
        f"{_tokens(facts)} · model calls {facts['calls']} · {duration}"
        f"<table><tr><th>agent</th><th>messages</th></tr>{rows}</table>"
        + (f"artifacts:<ul>{arts}</ul>" if arts else "")
        + (f"<small>stop reason: {esc(r.stop_reason)}</small>" if r.stop_reason else "")
        + problem
        + "</div>"
    )


def event_line(event: Event) -> str | None:
    """A one-line plain-text rendering for terminals (None for events not worth a line)."""
    line = _plain_line(event)
    return None if line is None else terminal_safe(line)


def _plain_line(event: Event) -> str | None:
    if isinstance(event, MessageEvent):
        tag = f"{event.agent}" + (f" ({event.kind})" if event.kind != "text" else "")
        return f"── {tag} " + "─" * max(0, 60 - len(tag)) + f"\n{event.content}"
    if isinstance(event, StatusEvent):
        return f"[{event.status}]" + (f" {event.reason}" if event.reason else "")
    if isinstance(event, ArtifactEvent):
        return f"[artifact] {event.name} → {event.path}"
    if isinstance(event, StepEvent):
        detail = event.artifact if event.phase == "finished" else event.reason
        return f"[step {event.step} {event.label}: {event.phase}]" + (
            f" {detail}" if detail else ""
        )
    if event.type == "error":
        return f"[error] {event.message}"  # type: ignore[union-attr]
    return None


def event_html(event: Event, palette: dict[str, str]) -> str | None:
    """One escaped HTML block for the live view."""
    esc = html.escape
    if isinstance(event, MessageEvent):
        agent = event.agent or "?"
        color = palette.setdefault(agent, _COLORS[len(palette) % len(_COLORS)])
        kind = "" if event.kind == "text" else f" <small>({esc(event.kind)})</small>"
        badge = (
            " <small style='color:#999'>[scripted]</small>"
            if (event.model or "").startswith("scripted")
            else ""
        )
        return (
            f"<div style='margin:4px 0;border-left:3px solid {color};padding-left:6px'>"
            f"<b style='color:{color}'>{esc(agent)}</b>{kind}{badge}"
            f"<pre style='white-space:pre-wrap;margin:2px 0'>{esc(event.content)}</pre></div>"
        )
    line = event_line(event)
    return None if line is None else f"<div><small>{esc(line)}</small></div>"


# What model text may become in HTML: structure and emphasis, links to web and mail
# addresses; never script, styles, event handlers, images (remote requests) or forms.
_SAFE_TAGS = frozenset(
    {"a", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
     "hr", "i", "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th",
     "thead", "tr", "ul"}
)  # fmt: skip
_SAFE_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"style"}, "td": {"style"}}
_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_markdown: Any = None


def _markdown_parser() -> Any:
    global _markdown
    if _markdown is None:
        from markdown_it import MarkdownIt

        # html=False: raw HTML an agent writes is shown as text, never interpreted
        parser = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])

        def image_as_link(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
            token = tokens[idx]  # a link instead: no request leaves the page on its own
            alt = html.escape(token.content or "image")
            return f'<a href="{html.escape(token.attrGet("src") or "")}">{alt}</a>'

        def smaller_heading(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
            token = tokens[idx]  # a message's "# Title" must not outshout the page around it
            level = min(6, int(token.tag[1]) + 3)
            return f"<{'/' if token.nesting < 0 else ''}h{level}>"

        parser.add_render_rule("image", image_as_link)
        parser.add_render_rule("heading_open", smaller_heading)
        parser.add_render_rule("heading_close", smaller_heading)
        _markdown = parser
    return _markdown


def markdown_html(text: str, *, limit: int | None = None) -> str:
    """Model-written Markdown as HTML that is safe to put in a page: rendered with
    markdown-it (raw HTML stays text), then cleaned by nh3 to an allow-list of tags,
    attributes and URL schemes (no script, no event handlers, no ``javascript:``).

    Text past ``limit`` characters is cut, and the cut is said.

    >>> markdown_html("**hi** <script>x</script> [a](javascript:alert(1))")
    '<p><strong>hi</strong> &lt;script&gt;x&lt;/script&gt; [a](javascript:alert(1))</p>'
    """
    import nh3

    more = 0
    if limit is not None and len(text) > limit:
        more, text = len(text) - limit, text[:limit]
    rendered = _markdown_parser().render(text)
    clean = nh3.clean(
        rendered,
        tags=set(_SAFE_TAGS),
        clean_content_tags={"script", "style"},
        attributes={k: set(v) for k, v in _SAFE_ATTRIBUTES.items()},
        url_schemes=set(_SAFE_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    ).strip()
    if more:
        clean += f"<p><i>… {more:,} more characters (the full text is in run.messages)</i></p>"
    return clean


def mermaid_markdown(diagram: str) -> str:
    """A Mermaid diagram as a fenced Markdown block it cannot break out of.

    The fence is longer than any run of backticks inside, so text from a third-party
    core cannot close it and be rendered as Markdown or HTML.
    """
    body = re.sub(r"^\s*```[\w-]*\n|\n\s*```\s*$", "", diagram).strip()
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}mermaid\n{body}\n{fence}"
