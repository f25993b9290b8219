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
        "steps",
        "phases",
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
        # expansion-pack forms: creative writing (steps/phases), game dev (sequences)
        "id",
        "title",
        "task",
        "input",
        "inputs",
        "output",
        "outputs",
        "repeat",
        "repeat_for",
        "duration",
        "implements",
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
        "subsections",  # the creative-writing pack's spelling of sections
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


def _placeholder_text(value: Any) -> str:
    """``title: {{name}}`` unquoted is YAML for a mapping in a mapping: read it back as the
    placeholder the author meant."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, inner),) = value.items()
        if isinstance(key, str) and inner is None:
            return "{{" + key + "}}"
    return _text(value)


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


def _first(data: Mapping[str, Any], *keys: str) -> Any:
    return next((data[k] for k in keys if data.get(k) not in (None, "", [])), None)


def _names(doc: LocatedYaml, path: tuple[Any, ...], value: Any) -> list[str]:
    """Names as a list; ``requires: a.md, b.md`` (one text, commas) is two names."""
    return [part.strip() for item in _strings(doc, path, value) for part in item.split(",")]


def _step(
    doc: LocatedYaml, path: tuple[Any, ...], index: int, raw: Any, phase: str | None = None
) -> WorkflowStep:
    if isinstance(raw, str):  # a bare marker such as "- workflow_end"
        return WorkflowStep(index=index, step=raw, source=doc.file, line=doc.line_of(path))
    data = _mapping(doc, path, raw, "a workflow step")
    _check_keys(doc, path, data, "step")
    # the core writes creates/requires/repeats; packs write output(s)/input(s)/repeat(_for)
    creates_key = next((k for k in ("creates", "output", "outputs") if data.get(k)), "creates")
    requires_key = next((k for k in ("requires", "input", "inputs") if data.get(k)), "requires")
    uses = _text(data.get("uses")) or None
    return WorkflowStep(
        index=index,
        agent=_text(data.get("agent")) or None,
        step=_text(_first(data, "step", "title", "id")) or None,
        action=_text(data.get("action")) or None,
        creates=_file_name(doc, (*path, creates_key), data.get(creates_key)),
        requires=_names(doc, (*path, requires_key), data.get(requires_key)),
        updates=_text(data.get("updates")) or None,
        validates=_text(data.get("validates")) or None,
        uses=uses,
        task=_text(data.get("task")) or None,
        phase=phase,
        condition=_text(data.get("condition")) or None,
        optional=bool(data.get("optional")),
        optional_steps=_strings(doc, (*path, "optional_steps"), data.get("optional_steps")),
        repeats=_text(_first(data, "repeats", "repeat", "repeat_for")) or None,
        routes=_routes(doc, (*path, "routes"), data.get("routes")) or None,
        notes=_text(data.get("notes")) or None,
        field_lines={
            **{str(k): doc.line_of((*path, k)) or 0 for k in data},
            "creates": doc.line_of((*path, creates_key)) or 0,
            "requires": doc.line_of((*path, requires_key)) or 0,
        },
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


def _sequences(
    doc: LocatedYaml, base: tuple[Any, ...], wf: Mapping[str, Any]
) -> dict[str, list[WorkflowStep]]:
    """Every list of steps a workflow holds, by key, in file order.

    ``sequence:`` (the core), any ``*_sequence:`` key (game packs: several, the user
    picks one), ``steps:`` (creative-writing pack) and ``phases:`` (a mapping of phase →
    steps, run in order as one sequence).
    """
    found: dict[str, list[WorkflowStep]] = {}
    for key, value in wf.items():
        key = str(key)
        if key in ("sequence", "steps") or key.endswith("_sequence"):
            raw = _list(doc, (*base, key), value, f"'{key}'")
            found[key] = [_step(doc, (*base, key, i), i, r) for i, r in enumerate(raw)]
        elif key == "phases":
            phases = _mapping(doc, (*base, key), value, "'phases'")
            steps: list[WorkflowStep] = []
            for phase, raw_steps in phases.items():
                raw = _list(doc, (*base, key, phase), raw_steps, f"phase '{phase}'")
                first = len(steps)
                steps += [
                    _step(doc, (*base, key, phase, i), first + i, r, phase=str(phase))
                    for i, r in enumerate(raw)
                ]
            found[key] = steps
    return found


def parse_workflow(path: Path) -> BmadWorkflow:
    doc = load_yaml(path)
    data = _mapping(doc, (), doc.data, "a workflow file")
    # the core nests everything under ``workflow:``; some packs write it at the top
    base: tuple[Any, ...] = ("workflow",) if isinstance(data.get("workflow"), dict) else ()
    wf = _mapping(doc, base, data.get("workflow") if base else data, "'workflow'")
    if base:
        _check_keys(doc, base, wf, "workflow")
    sequences = _sequences(doc, base, wf)
    if not sequences:
        raise doc.error(
            base,
            "no steps: a workflow needs a list of steps under 'sequence', a '*_sequence' "
            "key, 'steps' or 'phases'",
        )
    return BmadWorkflow(
        id=_text(wf.get("id")) or path.stem,
        name=_text(wf.get("name") or wf.get("title")),
        description=_text(wf.get("description")).strip(),
        type=_text(wf.get("type")),
        project_types=_strings(doc, (*base, "project_types"), wf.get("project_types")),
        steps=next(iter(sequences.values())),
        sequences=sequences,
        flow_diagram=_text(wf.get("flow_diagram")) or None,
        decision_guidance=_keyed(
            _mapping(
                doc,
                (*base, "decision_guidance"),
                wf.get("decision_guidance"),
                "'decision_guidance'",
            )
        ),
        handoff_prompts=_keyed(
            _mapping(
                doc, (*base, "handoff_prompts"), wf.get("handoff_prompts"), "'handoff_prompts'"
            )
        ),
        source=str(path),
        line=doc.line_of(base) or 1,
    )


# -- templates ---------------------------------------------------------------------------


def _section(doc: LocatedYaml, path: tuple[Any, ...], raw: Any) -> TemplateSection:
    data = _mapping(doc, path, raw, "a template section")
    _check_keys(doc, path, data, "section")
    examples = data.get("examples")
    choices = data.get("choices")
    return TemplateSection(
        id=_text(data.get("id")),
        title=_placeholder_text(data.get("title")),
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
            _section(doc, (*path, key, i), s)
            for key in ("sections", "subsections")
            for i, s in enumerate(_list(doc, (*path, key), data.get(key), key))
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
    fmt = _text(output.get("format")) or "markdown"
    fields: dict[str, Any] = {}
    if fmt in ("yaml", "yml"):  # the document is the file's own fields, filled in
        skip = {"template", "workflow", "agent_config", "sections"}
        fields = {str(k): v for k, v in data.items() if k not in skip}
    return BmadTemplate(
        id=_text(meta.get("id")) or path.stem,
        name=_text(meta.get("name")),
        version=_text(meta.get("version")),  # upstream writes numbers (2.0)
        output_format=fmt,
        output_filename=_file_name(doc, ("template", "output", "filename"), output.get("filename")),
        output_title=_text(output.get("title")),
        sections=[_section(doc, ("sections", i), s) for i, s in enumerate(sections)],
        inputs=inputs,
        mode=_text(workflow.get("mode")),
        fields=fields,
        hints=_placeholder_hints(path) if fields else {},
        source=str(path),
        line=1,
        field_lines={"inputs": doc.line_of(("template", "inputs")) or 1},
    )


_HINTED = re.compile(r"\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}[^#\n]*#\s*(.+)$", re.M)


def _placeholder_hints(path: Path) -> dict[str, str]:
    """``gate: "{{gate_status}}" # PASS|CONCERNS|FAIL|WAIVED``: YAML drops comments, but
    they say what a placeholder may hold, so the drafting agent is told."""
    return {m[1]: m[2].strip() for m in _HINTED.finditer(read_text(path))}
