"""Drafting BMAD documents: sections by their owners, placeholders, YAML templates, revisions.

A template's sections are drafted one by one by their owners, with the documents the step
requires in every prompt, so nothing is lost at a hand-off. Placeholders in headings and
file names (``{{epic_title}}``, ``{{story_title_short}}``) are asked of the drafting agent
explicitly; numbered repeats count at every depth. ``format: yaml`` templates become YAML
with the template's own fields. Every document is written under the run's folder and
recorded as an artifact; a revision is a new version and the old one stays.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from botarmy_nb.bmad.conditions import parse_condition
from botarmy_nb.bmad.document import (
    NUMBERED,
    fill,
    render_document,
    render_yaml_document,
    repeat_scope,
    section_included,
    unresolved,
)
from botarmy_nb.bmad.models import VARIABLE, BmadCore, BmadTemplate, TemplateSection
from botarmy_nb.bmad.resolve import slug
from botarmy_nb.engine.recorder import RunRecorder
from botarmy_nb.events import ArtifactEvent
from botarmy_nb.paths import safe_join

__all__ = ["DEFAULT_REPEATS", "MAX_REPEATS", "Drafted", "Drafter", "template_file_name"]

MAX_REPEATS = 5  # "for each epic" never runs away
DEFAULT_REPEATS = 2
SO_FAR_CHARS = 2000  # how much of the document in progress each section prompt repeats
PLACEHOLDER_PROMPT = "Answer with one line per placeholder, as name: value."
_VALUE_LINE = re.compile(r"^\s*[-*]?\s*`?(?P<name>[A-Za-z_][\w.-]*)`?\s*[:=]\s*(?P<value>.+?)\s*$")

Ask = Callable[[str, str], Awaitable[str]]


@dataclass
class Drafted:
    """A stored document: its artifact name, text, and what the user should know."""

    name: str
    content: str
    warnings: list[str] = field(default_factory=list)


def template_file_name(template: BmadTemplate, scope: dict[str, Any]) -> str | None:
    """The file name a template's ``output.filename`` gives once filled, or None when it
    has no placeholders (the step's own name is used then)."""
    if not template.output_filename or not VARIABLE.search(template.output_filename):
        return None
    safe = {k: slug(str(v), limit=40) if not isinstance(v, int) else v for k, v in scope.items()}
    return PurePosixPath(fill(template.output_filename, safe)).name


class Drafter:
    """Drafts, revises and stores the documents of one run (its host is the workflow
    execution: it asks agents, decides prose conditions and elicits from humans)."""

    def __init__(self, host: Any) -> None:
        self.host = host
        self.versions: dict[str, int] = {}
        self._so_far: list[str] = []

    @property
    def core(self) -> BmadCore:
        return self.host.core  # type: ignore[no-any-return]

    @property
    def recorder(self) -> RunRecorder:
        return self.host.recorder  # type: ignore[no-any-return]

    # -- placeholders ---------------------------------------------------------------------

    async def fill_placeholders(
        self,
        agent: str,
        names: list[str],
        where: str,
        scope: dict[str, Any],
        hints: dict[str, str] | None = None,
    ) -> list[str]:
        """Ask ``agent`` for values of ``names`` missing from ``scope`` and add them; a
        name the answer leaves out gets a readable stand-in. Returns warnings."""
        missing = [n for n in dict.fromkeys(names) if n not in scope]
        if not missing:
            return []
        hints = hints or {}
        known = {k: v for k, v in scope.items() if isinstance(v, str | int | float)}
        lines = [
            f"Project: {self.host.task}",
            f"Give values for the placeholders of {where}.",
            *(f"- {n}" + (f" ({hints[n]})" if n in hints else "") for n in missing),
        ]
        if known:
            lines.append("Known values: " + ", ".join(f"{k}={v}" for k, v in known.items()))
        lines.append(PLACEHOLDER_PROMPT)
        answer = await self.host.ask(agent, "\n".join(lines))
        given: dict[str, str] = {}
        for line in answer.splitlines():
            match = _VALUE_LINE.match(line)
            if match and match["name"] in missing:
                given[match["name"]] = match["value"].strip().strip('"')
        warnings = []
        for name in missing:
            if given.get(name):
                scope[name] = given[name]
            else:
                scope[name] = name.replace("_", " ").capitalize()
                warnings.append(f"{agent} gave no value for {{{{{name}}}}} in {where}")
        return warnings

    # -- documents from templates ---------------------------------------------------------

    def _section_prompt(
        self,
        template: BmadTemplate,
        section: TemplateSection,
        title: str,
        scope: dict[str, Any],
        required: list[str],
    ) -> str:
        lines = [
            f"Project: {self.host.task}",
            f"Document: {fill(template.output_title or template.name, scope)}",
            f"Section: {title}",
            f"Section type: {section.type}",
        ]
        if section.columns:
            lines.append(f"Columns: {', '.join(section.columns)}")
        if section.instruction:
            lines.append(f"Instruction: {fill(section.instruction, scope)}")
        if section.template:
            lines.append(f"Template: {fill(section.template, scope)}")
        if section.examples:
            lines.append("Examples:\n" + "\n".join(f"- {e}" for e in section.examples[:3]))
        known = {
            k: v for k, v in scope.items() if isinstance(v, str | int | float) and k != NUMBERED
        }
        if known:
            lines.append("Known values: " + ", ".join(f"{k}={v}" for k, v in known.items()))
        lines.append("Write only the content of this section, in Markdown.")
        so_far = "\n\n".join(self._so_far)[-SO_FAR_CHARS:]
        if so_far:
            lines.append(f"Drafted so far in this document (end):\n{so_far}")
        return "\n".join(lines) + self.host.context(required)

    async def _draft_section(
        self,
        template: BmadTemplate,
        section: TemplateSection,
        key: str,
        scope: dict[str, Any],
        author: str,
        required: list[str],
        drafts: dict[str, Any],
        decisions: dict[str, bool],
        warnings: list[str],
    ) -> None:
        owner = self.core.agent_for_owner(section.owner) or author
        if section.condition and parse_condition(section.condition).is_prose:
            decisions[section.id] = await self.host.decide_section(owner, section.condition)
        if not section_included(section, scope, set(self.host.documents), decisions):
            return
        if section.repeatable:
            items = scope.get(section.id)
            count = (
                len(items)
                if isinstance(items, list)
                else await self.host.how_many(owner, section.title or section.id)
            )
            count = min(count, MAX_REPEATS)
            if not isinstance(items, list):
                drafts[f"{key}[]"] = [{} for _ in range(count)]
            for i in range(1, count + 1):
                item = items[i - 1] if isinstance(items, list) else {}
                inner = repeat_scope(section, scope, item, i)
                single = section.model_copy(update={"repeatable": False, "condition": None})
                await self._draft_section(
                    template, single, f"{key}[{i}]", inner, author, required, drafts,
                    decisions, warnings,
                )  # fmt: skip
            return
        scope = dict(scope)  # title values belong to this section and the ones inside it
        title = section.title or section.id
        if section.title and VARIABLE.search(section.title):
            warnings += await self.fill_placeholders(
                owner, VARIABLE.findall(section.title), f"the heading '{section.title}'", scope
            )
            title = fill(section.title, scope)
            drafts[f"{key}#title"] = title
        if section.instruction or section.template or not section.sections:
            drafts[key] = await self.host.ask(
                owner, self._section_prompt(template, section, title, scope, required)
            )
            if section.elicit:
                drafts[key] = await self.host.elicit(owner, title, drafts[key])
            self._so_far.append(f"{title}: {drafts[key]}")
        for child in section.sections:
            await self._draft_section(
                template, child, f"{key}.{child.id}", scope, author, required, drafts,
                decisions, warnings,
            )  # fmt: skip

    async def draft(
        self,
        template: BmadTemplate,
        author: str,
        required: list[str],
        scope: dict[str, Any],
        name: str | None = None,
    ) -> Drafted:
        """Draft every included section with its owner, assemble and store the document.

        ``name``: the artifact name (None: the template's filled ``output.filename``).
        Names come from BMAD files and models: checked before any drafting, and the
        document is written only under the run's artifacts folder.
        """
        scope = dict(scope)
        warnings: list[str] = []
        what = f"artifact name (template {template.file_stem})"
        if name is not None:  # refused before any model turn is spent on it
            safe_join(self._folder(), name, what=what)
        head = [template.output_title, template.output_filename or ""]
        head_names = [n for text in head for n in VARIABLE.findall(text)]
        if template.output_format in ("yaml", "yml"):
            head_names += [n for n in template.variables]
        warnings += await self.fill_placeholders(
            author,
            head_names,
            f"the document '{template.output_title or template.file_stem}' and its file name",
            scope,
            template.hints,
        )
        name = name or template_file_name(template, scope) or template.artifact
        name = name or f"{template.file_stem}.md"
        safe_join(self._folder(), name, what=what)
        if template.output_format in ("yaml", "yml"):
            content = render_yaml_document(template, scope)
            return self.store(name, content, author, template.file_stem, "yaml", warnings)
        drafts: dict[str, Any] = {}
        decisions: dict[str, bool] = {}
        self._so_far = []
        if template.output_title:
            drafts["#title"] = fill(template.output_title, scope)
        for section in template.sections:
            await self._draft_section(
                template, section, section.id, scope, author, required, drafts, decisions,
                warnings,
            )  # fmt: skip
        content = render_document(
            template,
            variables=scope,
            drafts=drafts,
            artifacts=set(self.host.documents),
            decisions=decisions,
        )
        left = unresolved(content)
        if left:
            warnings.append(
                f"{name} still has placeholders: " + ", ".join(f"{{{{{n}}}}}" for n in left)
            )
        return self.store(name, content, author, template.file_stem, "markdown", warnings)

    # -- documents without a template, and revisions ---------------------------------------

    async def free_text(
        self, agent: str, name: str, instructions: str, required: list[str], warning: str | None
    ) -> Drafted:
        """A document the agent writes whole (no template fits, or a task describes it)."""
        safe_join(self._folder(), name, what="artifact name")
        text = await self.host.ask(
            agent,
            f"Project: {self.host.task}\nWrite the document {name}.\n{instructions}"
            + self.host.context(required),
        )
        return self.store(
            name, text.strip() + "\n", agent, None, "markdown", [warning] if warning else []
        )

    async def revise(self, agent: str, name: str, why: str, required: list[str]) -> Drafted:
        """A new version of ``name`` by ``agent``; the previous version stays stored."""
        current = self.host.documents[name]
        answer = await self.host.ask(
            agent,
            f"Project: {self.host.task}\nRevise the document {name}. Why: {why}\n"
            "Return the complete revised document in Markdown, keeping its headings.\n"
            f"--- CURRENT DOCUMENT {name} ---\n{current}\n--- END OF DOCUMENT ---"
            + self.host.context([r for r in required if r != name]),
        )
        text = answer.strip() + "\n"
        warnings = []
        kept = re.findall(r"^#{1,3} .+$", current, re.M)
        lost = [h for h in kept if h not in text]
        if lost and text.strip():
            warnings.append(f"the revision of {name} dropped {len(lost)} heading(s): {lost[0]}…")
        fmt = "yaml" if name.endswith((".yml", ".yaml")) else "markdown"
        return self.store(name, text, agent, None, fmt, warnings)

    # -- storing -----------------------------------------------------------------------------

    def _folder(self) -> Path:
        return Path(self.host.artifacts_dir) / self.host.run_id

    def store(
        self,
        name: str,
        content: str,
        agent: str,
        template: str | None,
        fmt: str,
        warnings: list[str] | None = None,
    ) -> Drafted:
        """Write ``content`` as ``name`` and record it; an earlier version is kept on disk
        as ``<stem>.v<N><suffix>`` and in the store (each version is its own artifact)."""
        path = safe_join(self._folder(), name, what="artifact name")
        version = self.versions.get(name, 1 if name in self.host.documents else 0) + 1
        if version > 1 and path.exists():
            old = path.with_name(f"{path.stem}.v{version - 1}{path.suffix}")
            old.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
        self.versions[name] = version
        self.host.documents[name] = content
        self.host.authors[name] = agent
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        self.recorder.emit(
            ArtifactEvent(
                run_id=self.host.run_id,
                agent=agent,
                name=name,
                content=content,
                format=fmt,
                template=template,
                path=str(path),
            )
        )
        return Drafted(name, content, list(warnings or []))
