"""Rendering: diagrams cannot break out of their fence."""

from __future__ import annotations


def test_mermaid_text_cannot_break_out_of_its_fence() -> None:
    from botarmy_nb.render import mermaid_markdown

    text = mermaid_markdown("```mermaid\ngraph TD\n```\n<img src=x onerror=alert(1)>\n```")
    fence = text.split("mermaid", 1)[0]
    assert len(fence) == 4 and text.endswith("\n" + fence)
    assert text.count("````") == 2  # the inner ``` cannot close a four-backtick fence
