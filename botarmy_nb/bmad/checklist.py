"""Checklists (``checklists/*.md``): their items, the verdicts an agent gives, the report."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["VERDICTS", "ChecklistItem", "ChecklistReport", "checklist_groups", "parse_verdicts"]

VERDICTS = ("PASS", "PARTIAL", "FAIL", "N/A")
_ITEM = re.compile(r"^\s*[-*]\s+\[[ xX]\]\s+(?P<text>.+?)\s*$")
_HEADING = re.compile(r"^(?P<marks>#{1,6})\s+(?P<title>.+?)\s*$")
_VERDICT = re.compile(
    r"^\s*(?P<number>\d+)[.):]?\s*(?:\*\*)?(?P<verdict>PASS|PARTIAL|FAIL|N/?A)(?:\*\*)?"
    r"\s*(?:[-—–:]\s*(?P<note>.*))?$",
    re.I | re.M,
)


@dataclass(frozen=True)
class ChecklistItem:
    number: int  # 1-based, across the whole checklist
    group: str  # the top-level section it is in
    text: str


@dataclass
class ChecklistReport:
    """Each item's verdict and note; items the agent skipped are ``NOT ASSESSED``."""

    checklist: str
    items: list[ChecklistItem]
    verdicts: dict[int, tuple[str, str]] = field(default_factory=dict)

    @property
    def issues(self) -> list[ChecklistItem]:
        return [i for i in self.items if self.verdict(i)[0] in ("FAIL", "PARTIAL")]

    def verdict(self, item: ChecklistItem) -> tuple[str, str]:
        return self.verdicts.get(item.number, ("NOT ASSESSED", "no verdict given"))

    def to_markdown(self, title: str) -> str:
        counts: dict[str, int] = {}
        for item in self.items:
            counts[self.verdict(item)[0]] = counts.get(self.verdict(item)[0], 0) + 1
        summary = ", ".join(f"{name}: {n}" for name, n in sorted(counts.items()))
        lines = [
            f"# {title}",
            "",
            f"Checklist: {self.checklist} — {len(self.items)} items ({summary})",
            "",
            "| # | Section | Item | Verdict | Note |",
            "|---|---|---|---|---|",
        ]
        for item in self.items:
            verdict, note = self.verdict(item)
            cells = [str(item.number), item.group, item.text, verdict, note]
            lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
        return "\n".join(lines) + "\n"


def checklist_groups(text: str) -> list[tuple[str, list[ChecklistItem]]]:
    """The checklist's items grouped by their top-level section (the first heading level
    below the title), numbered across the whole checklist."""
    headings = [m for m in (_HEADING.match(line) for line in text.splitlines()) if m]
    levels = sorted({len(m["marks"]) for m in headings})
    top = levels[1] if len(levels) > 1 else (levels[0] if levels else 2)
    groups: list[tuple[str, list[ChecklistItem]]] = []
    current, number = "Checklist", 0
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading and len(heading["marks"]) <= top:
            current = heading["title"].strip("# ").strip()
            continue
        item = _ITEM.match(line)
        if item:
            number += 1
            if not groups or groups[-1][0] != current:
                groups.append((current, []))
            groups[-1][1].append(ChecklistItem(number, current, item["text"]))
    return groups


def parse_verdicts(answer: str, items: list[ChecklistItem]) -> dict[int, tuple[str, str]]:
    """``12. PASS — covered by prd.md`` lines → {12: ("PASS", "covered by prd.md")}; only
    numbers of ``items`` count."""
    wanted = {i.number for i in items}
    found: dict[int, tuple[str, str]] = {}
    for match in _VERDICT.finditer(answer):
        number = int(match["number"])
        if number in wanted:
            verdict = match["verdict"].upper().replace("NA", "N/A").replace("N//A", "N/A")
            found[number] = (verdict, (match["note"] or "").strip())
    return found
