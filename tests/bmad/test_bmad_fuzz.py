"""Fuzzed BMAD cores: agents (.md around YAML), teams, workflows and templates either load
— and then everything built from them works — or fail with a SpecError naming the file."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from yaml_strategies import TRAPS, mapping, markdown_around, names, scalars, values, yaml_text

from botarmy_nb.bmad.conditions import parse_condition
from botarmy_nb.bmad.loader import load_bmad
from botarmy_nb.bmad.models import BmadCore
from botarmy_nb.errors import ConfigError, SpecError
from botarmy_nb.specs.yamlpos import relative_name_problem

BASE = {
    "agents/pm.md": (
        "# pm\n\n```yaml\nagent: {name: Pat, id: pm, title: PM}\n"
        "dependencies: {templates: [prd-tmpl.yaml]}\n```\n"
    ),
    "agent-teams/team.yaml": "bundle: {name: All}\nagents: [pm]\nworkflows: [flow]\n",
    "workflows/flow.yaml": (
        "workflow:\n  id: flow\n  sequence:\n    - agent: pm\n      creates: prd.md\n"
        "      uses: prd-tmpl\n"
    ),
    "templates/prd-tmpl.yaml": (
        "template: {id: prd, name: PRD, output: {filename: docs/prd.md}}\n"
        "sections: [{id: goals, title: Goals}]\n"
    ),
}

file_names = st.one_of(names, st.sampled_from(["docs/prd.md", "prd.md", "a/b/c.md"]))
agent_names = st.one_of(st.sampled_from(["pm", "pm/pm", "various", "*"]), names)
conditions = st.one_of(
    st.sampled_from(TRAPS),
    st.lists(
        st.sampled_from(["has_ui", "and", "or", "not", "(", ")", "[", "]", "==", '"web"', "3"]),
        max_size=12,
    ).map(" ".join),
)

agent_block = mapping(
    {},
    {
        "agent": mapping(
            {"id": st.just("pm")},
            {"name": names, "title": names, "icon": names, "whenToUse": names},
        ),
        "persona": mapping(
            {}, {"role": names, "style": names, "core_principles": st.lists(values(), max_size=3)}
        ),
        "core_principles": st.lists(names, max_size=3),
        "commands": st.one_of(
            st.lists(st.one_of(names, st.dictionaries(names, scalars, max_size=2)), max_size=3),
            st.dictionaries(names, scalars, max_size=3),
        ),
        "dependencies": st.dictionaries(
            st.sampled_from(["templates", "tasks", "workflows", "data", "checklists"]),
            st.one_of(st.lists(file_names, max_size=3), values()),
            max_size=3,
        ),
    },
)
team = mapping(
    {},
    {
        "bundle": mapping({}, {"name": names, "icon": names, "description": names}),
        "agents": st.lists(agent_names, max_size=3),
        "workflows": st.lists(st.sampled_from(["flow", "flow.yaml", "nope"]), max_size=2),
    },
)
route = mapping({}, {"agent": agent_names, "uses": names, "notes": names})
step = mapping(
    {},
    {
        "agent": agent_names,
        "step": names,
        "action": names,
        "creates": file_names,
        "requires": st.one_of(file_names, st.lists(file_names, max_size=2)),
        "updates": file_names,
        "uses": st.sampled_from(["prd-tmpl", "nope-tmpl", "x"]),
        "condition": conditions,
        "optional": scalars,
        "optional_steps": st.lists(names, max_size=2),
        "repeats": names,
        "routes": st.dictionaries(names, st.one_of(route, scalars), max_size=3),
        "notes": names,
    },
)
workflow = mapping(
    {
        "workflow": mapping(
            {},
            {
                "id": names,
                "name": names,
                "type": names,
                "project_types": st.lists(names, max_size=2),
                "sequence": st.lists(st.one_of(step, names), max_size=4),
                "flow_diagram": names,
                "decision_guidance": st.dictionaries(names, values(), max_size=2),
                "handoff_prompts": st.dictionaries(
                    st.one_of(names, st.integers()), names, max_size=2
                ),
            },
        )
    }
)
section = st.recursive(
    mapping(
        {},
        {
            "id": names,
            "title": names,
            "instruction": names,
            "type": names,
            "template": names,
            "examples": st.one_of(names, st.lists(values(), max_size=2)),
            "repeatable": scalars,
            "condition": conditions,
            "owner": agent_names,
            "editors": st.lists(agent_names, max_size=2),
            "choices": values(),
            "columns": st.lists(names, max_size=2),
        },
    ),
    lambda inner: mapping({}, {"id": names, "sections": st.lists(inner, max_size=3)}),
    max_leaves=6,
)
template = mapping(
    {
        "template": mapping(
            {"id": names},
            {
                "name": names,
                "version": scalars,
                "output": mapping({}, {"format": names, "filename": file_names, "title": names}),
                "inputs": st.lists(
                    st.one_of(names, mapping({"name": values()}, {"required": scalars})),
                    max_size=3,
                ),
            },
        )
    },
    {"sections": st.lists(section, max_size=3), "workflow": mapping({}, {"mode": names})},
)

FUZZED = {
    "agents/pm.md": agent_block,
    "agent-teams/team.yaml": team,
    "workflows/flow.yaml": workflow,
    "templates/prd-tmpl.yaml": template,
}


def _use(core: BmadCore) -> None:
    """What runs and notebooks do with a loaded core must work on whatever loaded."""
    for agent in core.agents.values():
        assert agent.system_message()
    for flow in core.workflows.values():
        for step in flow.steps:
            assert step.label and isinstance(step.agents, list)
            if step.creates:
                assert relative_name_problem(step.creates) is None
            if step.condition:
                parse_condition(step.condition).evaluate({"has_ui": True}, {"prd.md"})
    for tmpl in core.templates.values():
        assert isinstance(tmpl.variables, list) and isinstance(tmpl.required_inputs, list)
        if tmpl.output_filename:
            assert relative_name_problem(tmpl.output_filename) is None
        core.template_for(tmpl.artifact or "")
        for top in tmpl.sections:
            for part in top.walk():
                core.agent_for_owner(part.owner)
                if part.condition:
                    parse_condition(part.condition).evaluate({}, ())


def _check(files: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "bmad-core"
        for rel, text in {**{k: v.encode() for k, v in BASE.items()}, **files}.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(text)
        lenient = load_bmad(root)  # never raises for a file's content: lists problems
        for problem in lenient.problems:
            assert Path(problem.file).is_relative_to(root) and problem.reason, problem
        try:
            core = load_bmad(root, strict=True)
        except SpecError as exc:
            assert exc.file and Path(exc.file).is_relative_to(root), exc
            assert exc.line is not None or exc.field is not None, exc
            return
        except ConfigError as exc:  # a condition problem outside any one file
            raise AssertionError(f"an error that names no file: {exc}") from exc
        _use(core)


@given(st.sampled_from(sorted(FUZZED)), st.data())
def test_one_fuzzed_file_in_a_good_core(rel: str, data: Any) -> None:
    raw = data.draw(yaml_text(FUZZED[rel]))
    if rel.endswith(".md"):
        raw = markdown_around(data.draw, raw)
    _check({rel: raw})


@given(st.data())
def test_every_file_fuzzed_at_once(data: Any) -> None:
    files = {rel: data.draw(yaml_text(strategy)) for rel, strategy in FUZZED.items()}
    files["agents/pm.md"] = markdown_around(data.draw, files["agents/pm.md"])
    _check(files)


@given(st.sampled_from(sorted(FUZZED)), st.data())
def test_any_yaml_in_any_bmad_file(rel: str, data: Any) -> None:
    keys = ["agent", "workflow", "template", "sections", "sequence", "commands", "routes"]
    raw = data.draw(yaml_text(values(keys, leaves=20)))
    if rel.endswith(".md"):
        raw = markdown_around(data.draw, raw)
    _check({rel: raw})
