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
from botarmy_nb.specs.yamlpos import LocatedYaml, load_yaml, read_text, relative_name_problem

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


def _kind(value: Any) -> str:
    return {list: "a list", dict: "a mapping", str: "text"}.get(type(value), type(value).__name__)


def _list(doc: LocatedYaml, path: tuple[Any, ...], value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise doc.error(path, f"{what} must be a list, not {_kind(value)}")
    return value


def _strings(doc: LocatedYaml, path: tuple[Any, ...], value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str | int | float):
        return [str(value)]
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, list | dict):
                raise doc.error((*path, i), f"expected a name, not {_kind(item)}")
        return [str(v) for v in value if v is not None]
    raise doc.error(path, "expected a name or a list of names")


def _texts(doc: LocatedYaml, path: tuple[Any, ...], value: Any) -> list[str]:
    """A list of texts; one text is a list of one."""
    if value is None:
        return []
    if isinstance(value, list):
        return [_text(v) for v in value]
    if isinstance(value, dict):
        raise doc.error(path, "expected a text or a list of texts, not a mapping")
    return [_text(value)]


def _keyed(mapping: Mapping[Any, Any]) -> dict[str, Any]:
    """YAML keys may be numbers or dates; the models key by text."""
    return {str(k): v for k, v in mapping.items()}


def _list_or_none(value: Any) -> list[Any] | None:
    return value if isinstance(value, list) else None


def _file_name(doc: LocatedYaml, path: tuple[Any, ...], value: Any) -> str | None:
    """A relative output name (``docs/prd.md``); absolute or ``..`` names are refused."""
    text = _text(value).strip() or None
    if text is not None:
        problem = relative_name_problem(text)
        if problem:
            raise doc.error(path, f"the file name {text[:60]!r} {problem}")
    return text


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


# -- agents ------------------------------------------------------------------------------


def _agent_doc(path: Path) -> LocatedYaml:
    text = read_text(path)
    match = _YAML_BLOCK.search(text)
    if match is None:
        raise SpecError("an agent file needs one ```yaml block", file=str(path), line=1)
    # lines are counted in the markdown file, not in the block
    offset = text[: match.start(1)].count("\n")
    return load_yaml(match.group(1), name=str(path), line_offset=offset)


def _commands(doc: LocatedYaml, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict | list):
        raise doc.error(("commands",), f"commands must be a list or a mapping, not {_kind(value)}")
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
    # both places occur upstream
    principles_at = ("persona",) if "core_principles" in persona else ()
    principles = persona.get("core_principles", data.get("core_principles"))
    deps = _mapping(doc, ("dependencies",), data.get("dependencies"), "'dependencies'")
    dependencies = {str(k): _strings(doc, ("dependencies", k), v) for k, v in deps.items()}
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
            core_principles=_texts(doc, (*principles_at, "core_principles"), principles),
        ),
        commands=_commands(doc, data.get("commands")),
        dependencies=dependencies,
        field_lines={
            f"{kind}.{name}": doc.line_of(("dependencies", key, i)) or 0
            for key, kind in ((k, str(k)) for k in deps)
            for i, name in enumerate(dependencies[kind])
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
    return WorkflowStep(
        index=index,
        agent=_text(data.get("agent")) or None,
        step=_text(data.get("step")) or None,
        action=_text(data.get("action")) or None,
        creates=_file_name(doc, (*path, "creates"), data.get("creates")),
        requires=_strings(doc, (*path, "requires"), data.get("requires")),
        updates=_text(data.get("updates")) or None,
        uses=_text(data.get("uses")) or None,
        condition=_text(data.get("condition")) or None,
        optional=bool(data.get("optional")),
        optional_steps=_strings(doc, (*path, "optional_steps"), data.get("optional_steps")),
        repeats=_text(data.get("repeats")) or None,
        routes=_routes(doc, (*path, "routes"), data.get("routes")) or None,
        notes=_text(data.get("notes")) or None,
        field_lines={str(k): doc.line_of((*path, k)) or 0 for k in data},
        source=doc.file,
        line=doc.line_of(path),
    )


def _routes(doc: LocatedYaml, path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A step's routes: name → mapping whose ``agent`` and ``uses`` are names."""
    routes = _mapping(doc, path, value, "'routes'")
    for name, target in routes.items():
        if not isinstance(target, dict):
            continue  # upstream writes prose routes too; only mappings are checked
        for key in ("agent", "uses"):
            if isinstance(target.get(key), list | dict):
                raise doc.error(
                    (*path, name, key),
                    f"route '{name}': {key} must be a name, not {_kind(target[key])}",
                )
    return _keyed(routes)


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
        decision_guidance=_keyed(
            _mapping(
                doc,
                ("workflow", "decision_guidance"),
                wf.get("decision_guidance"),
                "'decision_guidance'",
            )
        ),
        handoff_prompts=_keyed(
            _mapping(
                doc, ("workflow", "handoff_prompts"), wf.get("handoff_prompts"), "'handoff_prompts'"
            )
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
        examples=_texts(doc, (*path, "examples"), examples if examples else None),
        repeatable=bool(data.get("repeatable")),
        condition=_text(data.get("condition")) or None,
        elicit=bool(data.get("elicit")),
        owner=_text(data.get("owner")) or None,
        editors=_strings(doc, (*path, "editors"), data.get("editors")),
        columns=_strings(doc, (*path, "columns"), data.get("columns")),
        choices=_keyed(choices) if isinstance(choices, dict) else _list_or_none(choices),
        sections=[
            _section(doc, (*path, "sections", i), s)
            for i, s in enumerate(_list(doc, (*path, "sections"), data.get("sections"), "sections"))
        ],
        extra={
            str(k): v
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
    for i, raw in enumerate(_list(doc, ("template", "inputs"), meta.get("inputs"), "inputs")):
        item = (
            {"name": raw}
            if isinstance(raw, str)
            else _mapping(doc, ("template", "inputs", i), raw, "an input")
        )
        if "name" not in item:
            raise doc.error(("template", "inputs", i), "an input needs a 'name'")
        if isinstance(item["name"], list | dict):
            raise doc.error(("template", "inputs", i, "name"), "an input name must be a name")
        inputs.append(
            TemplateInput(
                name=str(item["name"]),
                description=_text(item.get("description")),
                required=bool(item.get("required", True)),
            )
        )
    workflow = data.get("workflow") if isinstance(data.get("workflow"), dict) else {}
    sections = _list(doc, ("sections",), data.get("sections"), "sections")
    return BmadTemplate(
        id=_text(meta.get("id")) or path.stem,
        name=_text(meta.get("name")),
        version=_text(meta.get("version")),  # upstream writes numbers (2.0)
        output_format=_text(output.get("format")) or "markdown",
        output_filename=_file_name(doc, ("template", "output", "filename"), output.get("filename")),
        output_title=_text(output.get("title")),
        sections=[_section(doc, ("sections", i), s) for i, s in enumerate(sections)],
        inputs=inputs,
        mode=_text(workflow.get("mode")),
        source=str(path),
        line=1,
        field_lines={"inputs": doc.line_of(("template", "inputs")) or 1},
    )
