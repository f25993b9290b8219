"""The parsed BMAD-compatible core: agents, teams, workflows and templates (pydantic)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "BmadAgent",
    "BmadCore",
    "BmadTeam",
    "BmadTemplate",
    "BmadWorkflow",
    "Persona",
    "Problem",
    "TemplateInput",
    "TemplateSection",
    "WorkflowStep",
]

VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}")


class _Located(BaseModel):
    source: str = ""  # the file it came from
    line: int | None = None  # where it starts in that file
    field_lines: dict[str, int] = Field(default_factory=dict)  # key → line, for errors


class Problem(BaseModel):
    """A file of a core that did not load (or an entry refused because of one)."""

    file: str
    line: int | None = None
    reason: str
    kind: str = ""  # agents | agent-teams | workflows | templates
    name: str = ""  # the stem others refer to it by (``fullstack-architecture-tmpl``)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.reason}"


class Persona(BaseModel):
    role: str = ""
    style: str = ""
    identity: str = ""
    focus: str = ""
    core_principles: list[str] = Field(default_factory=list)


class BmadAgent(_Located):
    id: str
    name: str = ""
    title: str = ""
    icon: str = ""
    when_to_use: str = ""
    persona: Persona = Field(default_factory=Persona)
    commands: dict[str, str] = Field(default_factory=dict)
    dependencies: dict[str, list[str]] = Field(default_factory=dict)

    def system_message(self) -> str:
        """The instructions an AutoGen agent gets from this persona."""
        p = self.persona
        lines = [f"You are {self.name or self.id}, {self.title or p.role}."]
        lines += [text for text in (p.role, p.style, p.identity, p.focus) if text]
        if p.core_principles:
            lines.append("Principles:")
            lines += [f"- {principle}" for principle in p.core_principles]
        return "\n".join(lines)


class BmadTeam(_Located):
    id: str
    name: str = ""
    icon: str = ""
    description: str = ""
    agents: list[str] = Field(default_factory=list)  # "*" means every agent
    workflows: list[str] = Field(default_factory=list)


class WorkflowStep(_Located):
    index: int
    agent: str | None = None  # as written: "pm", "analyst/pm", "various", or none
    step: str | None = None
    action: str | None = None
    creates: str | None = None
    requires: list[str] = Field(default_factory=list)
    updates: str | None = None
    validates: str | None = None
    uses: str | None = None
    task: str | None = None  # expansion packs name the task a step runs
    phase: str | None = None  # the phase a step came from (``phases:`` workflows)
    condition: str | None = None
    optional: bool = False
    optional_steps: list[str] = Field(default_factory=list)
    repeats: str | None = None
    routes: dict[str, Any] | None = None
    notes: str | None = None

    @property
    def agents(self) -> list[str]:
        """The concrete agents named (``analyst/pm`` → both; ``various`` → none)."""
        if not self.agent or self.agent in ("various", "any", "all"):
            return []
        return [part.strip() for part in self.agent.split("/") if part.strip()]

    @property
    def label(self) -> str:
        return (
            self.step
            or self.creates
            or self.action
            or (f"validate {self.validates}" if self.validates else None)
            or (f"update {self.updates}" if self.updates else None)
            or self.task
            or f"step {self.index + 1}"
        )


class BmadWorkflow(_Located):
    id: str
    name: str = ""
    description: str = ""
    type: str = ""
    project_types: list[str] = Field(default_factory=list)
    steps: list[WorkflowStep] = Field(default_factory=list)  # the default sequence
    # every sequence by its key (``sequence``, ``full_game_sequence``…), first = default
    sequences: dict[str, list[WorkflowStep]] = Field(default_factory=dict)
    flow_diagram: str | None = None
    decision_guidance: dict[str, Any] = Field(default_factory=dict)
    handoff_prompts: dict[str, Any] = Field(default_factory=dict)

    @property
    def artifacts(self) -> list[str]:
        return [s.creates for s in self.steps if s.creates]

    def sequence(self, name: str | None = None) -> list[WorkflowStep]:
        """The steps of one sequence (``--var sequence=NAME``; default the first).

        ``NAME`` may omit the ``_sequence`` suffix (``prototype`` → ``prototype_sequence``).
        """
        if not name or not self.sequences:
            return self.steps
        for key in (name, f"{name}_sequence"):
            if key in self.sequences:
                return self.sequences[key]
        from botarmy_nb.errors import ConfigError, did_you_mean

        raise ConfigError(
            f"workflow '{self.id}' has no sequence '{name}'"
            + did_you_mean(name, self.sequences)
            + f" (it has: {', '.join(self.sequences)})"
        )


class TemplateSection(_Located):
    id: str = ""
    title: str = ""
    instruction: str = ""
    type: str = "paragraphs"
    template: str | None = None
    examples: list[str] = Field(default_factory=list)
    repeatable: bool = False
    condition: str | None = None
    elicit: bool = False
    owner: str | None = None
    editors: list[str] = Field(default_factory=list)
    columns: list[str] = Field(default_factory=list)
    choices: dict[str, Any] | list[Any] | None = None
    sections: list[TemplateSection] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)  # prefix, mermaid_type, item_template…

    def walk(self) -> list[TemplateSection]:
        return [self, *(s for child in self.sections for s in child.walk())]


class TemplateInput(BaseModel):
    name: str
    description: str = ""
    required: bool = True


class BmadTemplate(_Located):
    id: str
    name: str = ""
    version: str = ""
    output_format: str = "markdown"
    output_filename: str | None = None
    output_title: str = ""
    sections: list[TemplateSection] = Field(default_factory=list)
    inputs: list[TemplateInput] = Field(default_factory=list)
    mode: str = ""
    # format: yaml templates: the document's own fields (everything but ``template:``)
    fields: dict[str, Any] = Field(default_factory=dict)
    hints: dict[str, str] = Field(default_factory=dict)  # placeholder → its line's comment

    @property
    def file_stem(self) -> str:
        return Path(self.source).stem if self.source else self.id

    @property
    def artifact(self) -> str | None:
        """The artifact name this template produces (``docs/prd.md`` → ``prd.md``)."""
        return Path(self.output_filename).name if self.output_filename else None

    @property
    def variables(self) -> list[str]:
        """Every ``{{variable}}`` the template uses, in order of first use."""
        texts = [self.output_title, self.output_filename or ""]
        texts += _strings_in(self.fields)
        for top in self.sections:
            for s in top.walk():
                texts += [s.title, s.template or "", s.instruction, s.condition or ""]
        seen: dict[str, None] = {}
        for text in texts:
            for name in VARIABLE.findall(text):
                seen.setdefault(name, None)
        return list(seen)

    @property
    def required_inputs(self) -> list[str]:
        return [i.name for i in self.inputs if i.required]


class BmadCore(BaseModel):
    """Everything found on the BMAD search path, validated."""

    roots: list[str] = Field(default_factory=list)
    agents: dict[str, BmadAgent] = Field(default_factory=dict)
    teams: dict[str, BmadTeam] = Field(default_factory=dict)
    workflows: dict[str, BmadWorkflow] = Field(default_factory=dict)
    templates: dict[str, BmadTemplate] = Field(default_factory=dict)  # by file stem
    resources: dict[str, dict[str, str]] = Field(default_factory=dict)  # kind → name → path
    problems: list[Problem] = Field(default_factory=list)  # what did not load, and why

    def problem_for(self, kind: str, name: str) -> Problem | None:
        """Why the ``kind`` file called ``name`` (stem, file name or path) did not load."""
        stem = Path(name).name.removesuffix(".yaml").removesuffix(".yml").removesuffix(".md")
        return next((p for p in self.problems if p.kind == kind and p.name == stem), None)

    def agent_templates(self, agent_ids: list[str]) -> list[str]:
        """The template stems the agents list among their dependencies, in order."""
        out: dict[str, None] = {}
        for agent_id in agent_ids:
            agent = self.agents.get(agent_id)
            for name in agent.dependencies.get("templates", []) if agent else []:
                out.setdefault(Path(name).name.removesuffix(".yaml").removesuffix(".yml"))
        return list(out)

    def template(self, ref: str) -> BmadTemplate | None:
        """A template by file stem (``prd-tmpl``), file name, path or template id."""
        stem = Path(ref).name.removesuffix(".yaml").removesuffix(".yml")
        if stem in self.templates:
            return self.templates[stem]
        return next((t for t in self.templates.values() if t.id == ref), None)

    def agent_for_owner(self, owner: str | None) -> str | None:
        """The agent behind a section owner. Upstream writes roles ("scrum-master",
        "dev-agent"), ours write ids: match the id, ``<id>-agent``, or the title's slug."""
        if not owner:
            return None
        key = owner.strip().lower()
        for agent in self.agents.values():
            slug = re.sub(r"[^a-z0-9]+", "-", agent.title.lower()).strip("-")
            if key in (agent.id, f"{agent.id}-agent", slug):
                return agent.id
        return None

    def template_for(self, artifact: str) -> BmadTemplate | None:
        """The template whose output file is ``artifact`` (``prd.md`` → prd-tmpl)."""
        return next((t for t in self.templates.values() if t.artifact == artifact), None)


def _strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _strings_in(v)]
    if isinstance(value, list):
        return [t for v in value for t in _strings_in(v)]
    return []
