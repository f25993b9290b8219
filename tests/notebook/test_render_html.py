"""Model text as HTML: Markdown rendered by markdown-it, cleaned by nh3; nothing in it can
run, load or restyle anything."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from botarmy_nb.events import MessageEvent, StatusEvent
from botarmy_nb.notebook.cards import RunFacts, Transcript, inline_styles
from botarmy_nb.render import markdown_html

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](  javascript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=javascript:alert(1)></iframe>",
    "<svg onload=alert(1)>",
    "<style>body{display:none}</style>",
    '<div style="position:fixed;inset:0">cover</div>',
    "![x](javascript:alert(1))",
    '![x" onerror="alert(1)](https://example.org/a.png)',
    "<details open ontoggle=alert(1)>",
    "<form action=https://evil.example><input name=p></form>",
    "`<script>` and ```\n<script>alert(1)</script>\n```",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_nothing_executable_survives(text: str) -> None:
    out = markdown_html(text)
    tags = re.findall(r"<[a-zA-Z][^>]*>", out)  # real tags: any "<" of the text is escaped
    assert {re.match(r"<(\w+)", t)[1] for t in tags} <= {"p", "a", "code", "pre"}, out
    for tag in tags:
        assert not re.search(r"\son\w+\s*=|style=|javascript:|data:|vbscript:", tag, re.I), tag


def test_markdown_is_rendered() -> None:
    out = markdown_html("# Title\n\n**bold** *it* `code`\n\n| a | b |\n|--:|---|\n| 1 | 2 |\n\n- x")
    assert "<h4>Title</h4>" in out  # headings start at h4: a message never shouts
    assert "<strong>bold</strong>" in out and "<em>it</em>" in out and "<code>code</code>" in out
    assert '<th style="text-align:right">a</th>' in out and "<li>x</li>" in out


def test_links_are_safe_and_images_become_links() -> None:
    out = markdown_html("[docs](https://example.org/d) ![chart](https://example.org/c.png)")
    assert '<a href="https://example.org/d" rel="noopener noreferrer nofollow">docs</a>' in out
    assert '<a href="https://example.org/c.png" rel="noopener noreferrer nofollow">chart</a>' in out


def test_raw_html_is_shown_as_text() -> None:
    out = markdown_html("<table><tr><td>cell</td></tr></table> & <b>b</b>")
    assert "&lt;table&gt;" in out and "&amp;" in out and "<table>" not in out


def test_a_long_text_is_cut_and_says_so() -> None:
    out = markdown_html("L" * 1_000_000, limit=20_000)
    assert len(out) < 21_000 and "980,000 more characters" in out


def _message(seq: int, content: str, agent: str = "writer", at: float = 0.0) -> MessageEvent:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return MessageEvent(
        run_id="r", seq=seq, agent=agent, content=content, created_at=start + timedelta(seconds=at)
    )


def test_cards_escape_names_and_inline_styles_cannot_be_forged() -> None:
    t = Transcript(RunFacts("r"))
    forged = "<div class='ba-card ba-c0'><div class='ba-meta'><b>"
    t.apply(_message(1, forged + " text", agent="<img src=x onerror=alert(1)>"))
    html = inline_styles("".join(t.cards))
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.count('<div class="ba-card" style=') == 1  # only the real card got a style


def test_truncate_marker_drops_what_was_never_stored_and_says_so() -> None:
    t = Transcript(RunFacts("r"))
    for seq in range(1, 6):
        t.apply(_message(seq, f"message {seq}", at=seq))
    t.take_changes()
    t.apply(StatusEvent(run_id="r", seq=4, status="lost", truncate_after=3, reason="owner died"))
    changes = t.take_changes()
    assert changes.cards_from == 3  # the three stored messages stay, as they were
    shown = "".join(t.cards)
    assert "message 3" in shown and "message 4" not in shown and "message 5" not in shown
    assert "never stored" in shown and "run lost" in shown
    assert t.head["status"] == "lost" and "resume" in t.head["note"]


def test_repeated_errors_are_one_card_with_a_count() -> None:
    from botarmy_nb.events import ErrorEvent

    t = Transcript(RunFacts("r"))
    for seq in range(1, 7):
        t.apply(ErrorEvent(run_id="r", seq=seq, error_type="ModelError", message="HTTP 503"))
    assert len(t.cards) == 1 and "×6" in t.cards[0]


def test_unknown_tokens_and_cost_stay_unknown() -> None:
    from botarmy_nb.events import ModelCallEvent

    t = Transcript(RunFacts("r"))
    t.apply(ModelCallEvent(run_id="r", seq=1, agent="w", provider="p", model="m",
                           prompt_tokens=3, completion_tokens=4, cost_usd=0.01))  # fmt: skip
    assert t.head["tokens"] == 7 and t.head["cost"] == pytest.approx(0.01)
    t.apply(ModelCallEvent(run_id="r", seq=2, agent="w", provider="p", model="m",
                           prompt_tokens=None, completion_tokens=None, cost_usd=None))  # fmt: skip
    assert t.head["tokens"] is None and t.head["cost"] is None
    t.apply(_message(3, "hi", agent="w"))
    assert "tokens unknown" in t.cards[-1]
