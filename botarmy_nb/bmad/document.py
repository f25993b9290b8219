"""Assemble a template's Markdown document from section drafts and the run's variables.

The workflow engine asks each section's owner agent for a draft (from the section's
instruction, template and examples) and passes the drafts here; this module decides
what is included (conditions, repeatable sections) and how each section type renders.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from botarmy_nb.bmad.conditions import parse_condition
from botarmy_nb.bmad.models import VARIABLE, BmadTemplate, TemplateSection
from botarmy_nb.errors import ConfigError

__all__ = [
    "NUMBERED",
    "fill",
    "missing_inputs",
    "number_aliases",
    "render_document",
    "render_section_body",
    "render_yaml_document",
    "repeat_scope",
    "section_included",
    "unresolved",
]

NUMBERED = "__numbered__"  # scope key: the number variables enclosing repeats have set
_NUMBER = re.compile(r"(?:^|_)(?:num|number|index)$")

_LIST_MARK = re.compile(r"^\s*(?:- \[[ xX]\]|[-*+]|\d+[.)])\s+")  # checklist first


def fill(text: str, variables: Mapping[str, Any]) -> str:
    """Replace known ``{{name}}`` placeholders; unknown ones stay for an agent to fill."""
    return VARIABLE.sub(
        lambda m: str(variables[m.group(1)]) if m.group(1) in variables else m.group(0), text
    )


def missing_inputs(template: BmadTemplate, variables: Mapping[str, Any]) -> list[str]:
    """The template's required inputs that have no value (checked before a run starts)."""
    return [name for name in template.required_inputs if variables.get(name) in (None, "")]


def _items(text: str) -> list[str]:
    return [_LIST_MARK.sub("", line).strip() for line in text.splitlines() if line.strip()]


def render_section_body(section: TemplateSection, text: str) -> str:
    """Render one section's content as Markdown according to its type."""
    kind = section.type
    if kind == "bullet-list":
        return "\n".join(f"- {item}" for item in _items(text))
    if kind == "numbered-list":
        prefix = section.extra.get("prefix")
        return "\n".join(
            f"{i}. {prefix}{i}: {item}"
            if prefix and not item.startswith(str(prefix))
            else f"{i}. {item}"
            for i, item in enumerate(_items(text), 1)
        )
    if kind == "checklist":
        return "\n".join(f"- [ ] {item}" for item in _items(text))
    if kind == "table":
        columns = section.columns or ["Item"]
        rows = [
            line.strip().strip("|").split("|")
            for line in text.splitlines()
            if line.strip() and not set(line.strip()) <= set("|-: ")
        ]
        if rows and [c.strip().lower() for c in rows[0]] == [c.lower() for c in columns]:
            rows = rows[1:]  # the draft repeated the header
        head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns)
        body = "\n".join(
            "| " + " | ".join((cells + [""] * len(columns))[: len(columns)]) + " |"
            for cells in ([c.strip() for c in row] for row in rows)
        )
        return head + ("\n" + body if body else "")
    if kind in ("code", "mermaid"):
        language = "mermaid" if kind == "mermaid" else str(section.extra.get("language", ""))
        inner = re.sub(r"^```[\w-]*\n|\n?```\s*$", "", text.strip())
        return f"```{language}\n{inner}\n```"
    return text.strip()  # paragraphs, template-text and anything else


def number_aliases(name: str, value: Any) -> dict[str, Any]:
    """Upstream spells one number two ways: ``epic_num`` and ``epic_number``."""
    base = re.sub(r"_(?:num|number)$", "", name)
    if base == name:
        return {name: value}
    return {name: value, f"{base}_num": value, f"{base}_number": value}


def repeat_scope(
    section: TemplateSection, scope: Mapping[str, Any], item: Any, index: int
) -> dict[str, Any]:
    """The values seen by the ``index``-th repetition: the item's own values, ``index``,
    and the repeat's own number. In ``Story {{epic_number}}.{{story_number}}`` inside a
    repeated epic, ``epic_number`` belongs to the enclosing repeat: only the innermost
    number not set by an enclosing repeat counts this one (``story_number``)."""
    outer = set(scope.get(NUMBERED, ()))
    names = [n for n in VARIABLE.findall(section.title) if _NUMBER.search(n)]
    own = [n for n in names if n not in outer and not (set(number_aliases(n, 0)) & outer)]
    numbers: dict[str, Any] = {}
    if own:
        numbers = number_aliases(own[-1], index)
    values = item if isinstance(item, Mapping) else {}
    return {
        **scope,
        **numbers,
        **values,
        "index": index,
        NUMBERED: tuple(outer | set(numbers)),
    }


def unresolved(text: str) -> list[str]:
    """The ``{{placeholders}}`` still in a text, in order of first appearance."""
    return list(dict.fromkeys(VARIABLE.findall(text)))


def _filled(value: Any, variables: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return fill(value, variables)
    if isinstance(value, dict):
        return {k: _filled(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_filled(v, variables) for v in value]
    return value


def render_yaml_document(template: BmadTemplate, variables: Mapping[str, Any]) -> str:
    """A ``format: yaml`` template's document: its own fields with placeholders filled,
    dumped as YAML that parses back to the same fields (the examples are left out)."""
    import yaml

    fields = {
        k: v
        for k, v in template.fields.items()
        if k not in ("examples", "optional_fields_examples")
    }
    return yaml.safe_dump(
        _filled(fields, variables), sort_keys=False, allow_unicode=True, width=100
    )


def section_included(
    section: TemplateSection,
    variables: Mapping[str, Any],
    artifacts: Collection[str],
    decisions: Mapping[str, bool],
) -> bool:
    if not section.condition:
        return True
    verdict = parse_condition(section.condition).evaluate(variables, artifacts)
    if verdict is None:  # prose: the owning agent's recorded decision (include by default)
        return decisions.get(section.id, True)
    return verdict


def _render(
    section: TemplateSection,
    level: int,
    variables: Mapping[str, Any],
    drafts: Mapping[str, Any],
    artifacts: Collection[str],
    decisions: Mapping[str, bool],
    key: str,
) -> list[str]:
    if not section_included(section, variables, artifacts, decisions):
        return []
    if section.repeatable:
        items = variables.get(section.id) or drafts.get(f"{key}[]") or [{}]
        out: list[str] = []
        for i, item in enumerate(items, 1):
            scope = repeat_scope(section, variables, item, i)
            single = section.model_copy(update={"repeatable": False})
            out += _render(single, level, scope, drafts, artifacts, decisions, f"{key}[{i}]")
        return out
    lines: list[str] = []
    if section.title:  # a title whose placeholders the drafting agent filled is stored
        title = drafts.get(f"{key}#title")
        lines.append(
            f"{'#' * level} {title if isinstance(title, str) else fill(section.title, variables)}"
        )
    draft = drafts.get(key, drafts.get(section.id))
    text = draft if isinstance(draft, str) else fill(section.template or "", variables)
    if text.strip():
        lines.append(render_section_body(section, fill(text, variables)))
    for child in section.sections:
        lines += _render(
            child, level + 1, variables, drafts, artifacts, decisions, f"{key}.{child.id}"
        )
    return lines


def render_document(
    template: BmadTemplate,
    *,
    variables: Mapping[str, Any],
    drafts: Mapping[str, Any] | None = None,
    artifacts: Collection[str] = (),
    decisions: Mapping[str, bool] | None = None,
) -> str:
    """The whole document as Markdown.

    ``drafts`` maps a section's key (its id, dotted under its parents: ``epics[2].story``
    for repeated sections) to the text its owner agent wrote; ``decisions`` maps a section
    id to the owner's verdict on a prose condition. Required inputs must be present.
    """
    missing = missing_inputs(template, variables)
    if missing:
        raise ConfigError(
            f"template '{template.file_stem}' needs values for: "
            f"{', '.join(missing)} (give them with --var NAME=VALUE)"
        )
    drafts, decisions = drafts or {}, decisions or {}
    title = drafts.get("#title")
    heading = title if isinstance(title, str) else fill(template.output_title, variables)
    lines = [f"# {heading}"] if template.output_title else []
    for section in template.sections:
        lines += _render(section, 2, variables, drafts, artifacts, decisions, section.id)
    return "\n\n".join(lines).strip() + "\n"
