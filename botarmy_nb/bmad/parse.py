"""Parsing one BMAD-compatible file (v4 format) into a model, with file/line errors.

Agents are markdown around one ```yaml block; teams, workflows and templates are YAML.
Unknown keys are allowed (upstream files carry many), but one that is a near miss of a
known key is reported as a typo.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from botarmy_nb.bmad.models import (
    BmadAgent,
    BmadTeam,
    BmadTemplate,
    BmadWorkflow,
    Persona,
    TemplateInput,
    TemplateSection,
    WorkflowStep,
)
from botarmy_nb.errors import SpecError
from botarmy_nb.specs.yamlpos import LocatedYaml, load_yaml

__all__ = ["KNOWN", "parse_agent", "parse_team", "parse_template", "parse_workflow"]

_YAML_BLOCK = re.compile(r"^```ya?ml[ \t]*\n(.*?)^```", re.M | re.S)
# Known keys per kind of mapping: an unknown key this close to one of them is a typo.
KNOWN: dict[str, set[str]] = {
    "agent": {"name", "id", "title", "icon", "whenToUse", "customization"},
    "persona": {"role", "style", "identity", "focus", "core_principles"},
    "team": {"bundle", "agents", "workflows"},
    "bundle": {"name", "icon", "description"},
    "workflow": {
        "id",
        "name",
        "description",
        "type",
        "project_types",
        "sequence",
        "flow_diagram",
        "decision_guidance",
        "handoff_prompts",
    },
    "step": {
        "agent",
        "step",
        "action",
        "creates",
        "requires",
        "updates",
        "uses",
        "condition",
        "optional",
        "optional_steps",
        "repeats",
        "routes",
        "notes",
        "validates",
    },
    "template": {"id", "name", "version", "output", "inputs"},
    "output": {"format", "filename", "title"},
    "section": {
        "id",
        "title",
        "instruction",
        "type",
        "template",
        "examples",
        "repeatable",
        "condition",
        "elicit",
        "owner",
        "editors",
        "sections",
        "columns",
        "choices",
        "content",
        "mermaid_type",
        "rows",
        "language",
        "items",
        "prefix",
        "item_template",
    },
}


def _check_keys(
    doc: LocatedYaml, path: tuple[Any, ...], mapping: Mapping[str, Any], kind: str
) -> None:
    known = KNOWN[kind]
    for key in mapping:
        if isinstance(key, str) and key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.8)
            if close:
                raise doc.error((*path, key), f"unknown key '{key}' (did you mean '{close[0]}'?)")


def _mapping(doc: LocatedYaml, path: tuple[Any, ...], value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise doc.error(path, f"{what} must be a mapping, not {type(value).__name__}")
    return value


def _strings(doc: LocatedYaml, path: tuple[Any, ...], value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str | int | float):
        return [str(value)]
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    raise doc.error(path, "expected a name or a list of names")


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


# -- agents ------------------------------------------------------------------------------


def _agent_doc(path: Path) -> LocatedYaml:
    text = path.read_text(encoding="utf-8")
    match = _YAML_BLOCK.search(text)
    if match is None:
        raise SpecError("an agent file needs one ```yaml block", file=str(path), line=1)
    offset = text[: match.start(1)].count("\n")
    try:
        doc = load_yaml(match.group(1), name=str(path))
    except SpecError as exc:  # point at the line in the markdown file, not in the block
        raise SpecError(
            str(exc).split(": ", 1)[-1].split(": ", 1)[-1],
            file=str(path),
            line=(exc.line or 0) + offset,
        ) from None
    doc.lines = {k: v + offset for k, v in doc.lines.items()}
    return doc


def _commands(doc: LocatedYaml, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    items: Iterable[Any] = value.items() if isinstance(value, dict) else value
    out: dict[str, str] = {}
    for item in items:
        if isinstance(item, tuple):
            out[str(item[0])] = _text(item[1])
        elif isinstance(item, dict):
            for key, val in item.items():
                out[str(key)] = _text(val)
        elif isinstance(item, str):
            name, _, description = item.partition(":")
            out[name.strip().lstrip("*")] = description.strip()
        else:
            raise doc.error(("commands",), "commands are names, maps or 'name: text' strings")
    return out


def parse_agent(path: Path) -> BmadAgent:
    doc = _agent_doc(path)
    data = _mapping(doc, (), doc.data, "the agent YAML block")
    agent = _mapping(doc, ("agent",), data.get("agent"), "'agent'")
    _check_keys(doc, ("agent",), agent, "agent")
    persona = _mapping(doc, ("persona",), data.get("persona"), "'persona'")
    _check_keys(doc, ("persona",), persona, "persona")
    principles = persona.get("core_principles", data.get("core_principles"))  # both occur
    deps = _mapping(doc, ("dependencies",), data.get("dependencies"), "'dependencies'")
    return BmadAgent(
        id=_text(agent.get("id")) or path.stem,
        name=_text(agent.get("name")),
        title=_text(agent.get("title")),
        icon=_text(agent.get("icon")),
        when_to_use=_text(agent.get("whenToUse")),
        persona=Persona(
            role=_text(persona.get("role")),
            style=_text(persona.get("style")),
            identity=_text(persona.get("identity")),
            focus=_text(persona.get("focus")),
            core_principles=[_text(p) for p in (principles or [])],
        ),
        commands=_commands(doc, data.get("commands")),
        dependencies={str(k): _strings(doc, ("dependencies", k), v) for k, v in deps.items()},
        field_lines={
            f"{kind}.{name}": doc.line_of(("dependencies", kind, i)) or 0
            for kind, names in deps.items()
            for i, name in enumerate(names or [])
        },
        source=str(path),
        line=doc.line_of(("agent",)),
    )


# -- teams and workflows -----------------------------------------------------------------


def parse_team(path: Path) -> BmadTeam:
    doc = load_yaml(path)
    data = _mapping(doc, (), doc.data, "a team file")
    _check_keys(doc, (), data, "team")
    bundle = _mapping(doc, ("bundle",), data.get("bundle"), "'bundle'")
    _check_keys(doc, ("bundle",), bundle, "bundle")
    return BmadTeam(
        id=path.stem,
        name=_text(bundle.get("name")) or path.stem,
        icon=_text(bundle.get("icon")),
        description=_text(bundle.get("description")),
        agents=_strings(doc, ("agents",), data.get("agents")),
        workflows=_strings(doc, ("workflows",), data.get("workflows")),
        source=str(path),
        line=1,
    )


def _step(doc: LocatedYaml, index: int, raw: Any) -> WorkflowStep:
    path = ("workflow", "sequence", index)
    if isinstance(raw, str):  # a bare marker such as "- workflow_end"
        return WorkflowStep(index=index, step=raw, source=doc.file, line=doc.line_of(path))
    data = _mapping(doc, path, raw, "a workflow step")
    _check_keys(doc, path, data, "step")
    creates = data.get("creates")
    return WorkflowStep(
        index=index,
        agent=_text(data.get("agent")) or None,
        step=_text(data.get("step")) or None,
        action=_text(data.get("action")) or None,
        creates=_text(creates) or None,
        requires=_strings(doc, (*path, "requires"), data.get("requires")),
        updates=_text(data.get("updates")) or None,
        uses=_text(data.get("uses")) or None,
        condition=_text(data.get("condition")) or None,
        optional=bool(data.get("optional")),
        optional_steps=_strings(doc, (*path, "optional_steps"), data.get("optional_steps")),
        repeats=_text(data.get("repeats")) or None,
        routes=_mapping(doc, (*path, "routes"), data.get("routes"), "'routes'") or None,
        notes=_text(data.get("notes")) or None,
        field_lines={str(k): doc.line_of((*path, k)) or 0 for k in data},
        source=doc.file,
        line=doc.line_of(path),
    )


def parse_workflow(path: Path) -> BmadWorkflow:
    doc = load_yaml(path)
    data = _mapping(doc, (), doc.data, "a workflow file")
    wf = _mapping(doc, ("workflow",), data.get("workflow"), "'workflow'")
    _check_keys(doc, ("workflow",), wf, "workflow")
    sequence = wf.get("sequence") or []
    if not isinstance(sequence, list):
        raise doc.error(("workflow", "sequence"), "the sequence must be a list of steps")
    return BmadWorkflow(
        id=_text(wf.get("id")) or path.stem,
        name=_text(wf.get("name")),
        description=_text(wf.get("description")).strip(),
        type=_text(wf.get("type")),
        project_types=_strings(doc, ("workflow", "project_types"), wf.get("project_types")),
        steps=[_step(doc, i, raw) for i, raw in enumerate(sequence)],
        flow_diagram=_text(wf.get("flow_diagram")) or None,
        decision_guidance=_mapping(
            doc,
            ("workflow", "decision_guidance"),
            wf.get("decision_guidance"),
            "'decision_guidance'",
        ),
        handoff_prompts=_mapping(
            doc, ("workflow", "handoff_prompts"), wf.get("handoff_prompts"), "'handoff_prompts'"
        ),
        source=str(path),
        line=doc.line_of(("workflow",)),
    )


# -- templates ---------------------------------------------------------------------------


def _section(doc: LocatedYaml, path: tuple[Any, ...], raw: Any) -> TemplateSection:
    data = _mapping(doc, path, raw, "a template section")
    _check_keys(doc, path, data, "section")
    examples = data.get("examples")
    choices = data.get("choices")
    return TemplateSection(
        id=_text(data.get("id")),
        title=_text(data.get("title")),
        instruction=_text(data.get("instruction")).strip(),
        type=_text(data.get("type")) or "paragraphs",
        template=_text(data.get("template")) or None,
        examples=[_text(e) for e in examples]
        if isinstance(examples, list)
        else ([_text(examples)] if examples else []),
        repeatable=bool(data.get("repeatable")),
        condition=_text(data.get("condition")) or None,
        elicit=bool(data.get("elicit")),
        owner=_text(data.get("owner")) or None,
        editors=_strings(doc, (*path, "editors"), data.get("editors")),
        columns=_strings(doc, (*path, "columns"), data.get("columns")),
        choices=choices if isinstance(choices, dict | list) else None,
        sections=[
            _section(doc, (*path, "sections", i), s)
            for i, s in enumerate(data.get("sections") or [])
        ],
        extra={
            k: v
            for k, v in data.items()
            if k not in KNOWN["section"]
            or k
            in ("content", "mermaid_type", "rows", "language", "items", "prefix", "item_template")
        },
        field_lines={str(k): doc.line_of((*path, k)) or 0 for k in data},
        source=doc.file,
        line=doc.line_of(path),
    )


def parse_template(path: Path) -> BmadTemplate:
    doc = load_yaml(path)
    data = _mapping(doc, (), doc.data, "a template file")
    meta = _mapping(doc, ("template",), data.get("template"), "'template'")
    _check_keys(doc, ("template",), meta, "template")
    output = _mapping(doc, ("template", "output"), meta.get("output"), "'output'")
    _check_keys(doc, ("template", "output"), output, "output")
    inputs = []
    for i, raw in enumerate(meta.get("inputs") or []):
        item = (
            {"name": raw}
            if isinstance(raw, str)
            else _mapping(doc, ("template", "inputs", i), raw, "an input")
        )
        if "name" not in item:
            raise doc.error(("template", "inputs", i), "an input needs a 'name'")
        inputs.append(
            TemplateInput(
                name=str(item["name"]),
                description=_text(item.get("description")),
                required=bool(item.get("required", True)),
            )
        )
    workflow = data.get("workflow") if isinstance(data.get("workflow"), dict) else {}
    sections = data.get("sections") or []
    if not isinstance(sections, list):
        raise doc.error(("sections",), "sections must be a list")
    return BmadTemplate(
        id=_text(meta.get("id")) or path.stem,
        name=_text(meta.get("name")),
        version=_text(meta.get("version")),  # upstream writes numbers (2.0)
        output_format=_text(output.get("format")) or "markdown",
        output_filename=_text(output.get("filename")) or None,
        output_title=_text(output.get("title")),
        sections=[_section(doc, ("sections", i), s) for i, s in enumerate(sections)],
        inputs=inputs,
        mode=_text(workflow.get("mode")),
        source=str(path),
        line=1,
        field_lines={"inputs": doc.line_of(("template", "inputs")) or 1},
    )
