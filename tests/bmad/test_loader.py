"""The BMAD-compatible loader: upstream v4 in full, irregular formats, precise errors."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import pytest

from botarmy_nb.bmad.loader import load_bmad
from botarmy_nb.errors import ConfigError, SpecError

UPSTREAM = os.environ.get("BOTARMY_TEST_BMAD_UPSTREAM")

AGENT = """\
# {id}

```yaml
agent:
  name: {name}
  id: {id}
  title: {title}
  icon: "*"
  whenToUse: when needed
persona:
  role: {title}
  style: brief
commands:
  - help: show commands
dependencies:
  templates:
    - {template}
```
"""


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def core(tmp_path: Path) -> Path:
    """A small v4-layout core with the upstream format's irregularities."""
    root = tmp_path / "mini" / "bmad-core"
    _write(
        root,
        "agents/analyst.md",
        AGENT.format(id="analyst", name="Ana", title="Analyst", template="brief-tmpl.yaml"),
    )
    _write(
        root,
        "agents/pm.md",
        AGENT.format(id="pm", name="Pat", title="PM", template="prd-tmpl.yaml"),
    )
    _write(
        root,
        "agents/master.md",
        """\
        ```yaml
        agent: {name: Max, id: master, title: Master}
        core_principles: [Be useful]
        commands:
          help: show commands
          run: run things
        dependencies:
          tasks: [create-doc.md]
          utils: [helpers.md]
        ```
        """,
    )
    _write(root.parent, "common/tasks/create-doc.md", "# create doc\n")
    _write(root.parent, "common/utils/helpers.md", "# helpers\n")
    _write(
        root, "agent-teams/team-all.yaml", "bundle: {name: All}\nagents: ['*']\nworkflows: null\n"
    )
    _write(
        root,
        "templates/brief-tmpl.yaml",
        """\
        template:
          id: brief-v1
          name: Brief
          version: 2.0
          output: {format: markdown, filename: docs/brief.md, title: "{{project_name}} Brief"}
        sections:
          - id: intro
            title: Intro
            instruction: Say what {{project_name}} is.
          - id: epics
            title: Epics
            repeatable: true
            sections:
              - id: epic
                title: "Epic {{epic_number}}"
        """,
    )
    _write(
        root,
        "templates/prd-tmpl.yaml",
        """\
        template: {id: prd, name: PRD, version: 1, output: {filename: docs/prd.md}}
        sections: [{id: goals, title: Goals, type: bullet-list}]
        """,
    )
    _write(
        root,
        "workflows/flow.yaml",
        """\
        workflow:
          id: flow
          name: Flow
          sequence:
            - step: kickoff
              action: agree on scope
            - agent: analyst
              creates: brief.md
              optional_steps: [brainstorming]
            - agent: analyst/pm
              creates: prd.md
              requires: brief.md
              condition: brief_is_approved
            - agent: various
              updates: prd.md (if needed)
              requires: [brief.md, prd.md, all_artifacts_in_project]
              repeats: for_each_epic
            - step: route
              agent: pm
              routes:
                small: {agent: pm, uses: prd-tmpl}
                big: {agent: analyst}
        """,
    )
    return root


def test_a_core_with_upstream_irregularities_loads(core: Path) -> None:
    loaded = load_bmad(core)
    assert set(loaded.agents) == {"analyst", "pm", "master"}
    assert loaded.agents["master"].persona.core_principles == ["Be useful"]
    assert loaded.agents["master"].commands == {"help": "show commands", "run": "run things"}
    assert loaded.teams["team-all"].workflows == [] and loaded.teams["team-all"].agents == ["*"]
    flow = loaded.workflows["flow"]
    assert flow.steps[0].agent is None and flow.steps[0].step == "kickoff"
    assert flow.steps[2].agents == ["analyst", "pm"] and flow.steps[3].agents == []
    assert flow.artifacts == ["brief.md", "prd.md"]
    brief = loaded.template("brief-tmpl")
    assert brief is not None and brief.version == "2.0" and brief.artifact == "brief.md"
    assert brief.variables == ["project_name", "epic_number"]
    assert loaded.template_for("prd.md").id == "prd"
    assert loaded.resources["tasks"]["create-doc.md"].endswith("common/tasks/create-doc.md")


@pytest.mark.parametrize(
    "rel, old, new, line, message",
    [
        (
            "workflows/flow.yaml",
            "requires: brief.md",
            "requries: brief.md",
            12,
            "unknown key 'requries' (did you mean 'requires'?)",
        ),
        (
            "workflows/flow.yaml",
            "- agent: analyst\n",
            "- agent: analist\n",
            7,
            "unknown agent 'analist' (did you mean 'analyst'?)",
        ),
        (
            "workflows/flow.yaml",
            "requires: brief.md",
            "requires: prd.md",
            12,
            "requires 'prd.md', which only a later step creates",
        ),
        (
            "workflows/flow.yaml",
            "requires: brief.md",
            "requires: spec.md",
            12,
            "requires 'spec.md', which no earlier step creates",
        ),
        (
            "workflows/flow.yaml",
            "uses: prd-tmpl",
            "uses: prd2-tmpl",
            20,
            "uses template 'prd2-tmpl', which does not exist",
        ),
        (
            "workflows/flow.yaml",
            "big: {agent: analyst}",
            "big: {agent: archie}",
            20,
            "route 'big' names unknown agent 'archie'",
        ),
        (
            "agent-teams/team-all.yaml",
            "['*']",
            "[analyst, ux]",
            1,
            "team 'team-all' names unknown agent 'ux'",
        ),
        (
            "templates/brief-tmpl.yaml",
            "instruction: Say",
            "instrucion: Say",
            9,
            "unknown key 'instrucion' (did you mean 'instruction'?)",
        ),
        ("templates/brief-tmpl.yaml", "title: Intro", "title: [Intro", 8, "malformed YAML"),
        (
            "templates/brief-tmpl.yaml",
            "repeatable: true",
            "repeatable: true\n    condition: (a",
            13,
            "condition '(a'",
        ),
        (
            "workflows/flow.yaml",
            "condition: brief_is_approved",
            "condition: brief_ok ==",
            13,
            "condition 'brief_ok =='",
        ),
        (
            "agents/pm.md",
            "prd-tmpl.yaml",
            "prd-tmp.yaml",
            17,
            "depends on template 'prd-tmp.yaml', which does not exist",
        ),
        (
            "agents/pm.md",
            "style: brief",
            "styel: brief",
            12,
            "unknown key 'styel' (did you mean 'style'?)",
        ),
    ],
)
def test_errors_name_file_line_and_field(
    core: Path, rel: str, old: str, new: str, line: int, message: str
) -> None:
    path = core / rel
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(SpecError) as info:
        load_bmad(core, strict=True)
    assert str(path) in str(info.value) and message in str(info.value)
    assert info.value.line == line
    _listed_leniently(core, path, line, message)


def _listed_leniently(core: Path, path: Path, line: int, message: str) -> None:
    """Without strict, the same problem is listed (file, line, reason) and the rest loads."""
    loaded = load_bmad(core)
    found = [p for p in loaded.problems if p.file == str(path)]
    assert found and found[0].line == line and message in found[0].reason, loaded.problems
    assert loaded.agents  # everything else is there


def test_search_path_puts_user_folders_first(core: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from botarmy_nb import settings

    monkeypatch.setenv("BOTARMY_BMAD_PATH", str(core))
    settings.reset_settings()
    loaded = load_bmad()
    assert loaded.roots[0] == str(core) and len(loaded.roots) == 2
    assert loaded.agents["analyst"].name == "Ana"  # the user's analyst wins


def test_a_folder_that_is_not_a_core(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_bmad(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="no agents/ folder"):
        load_bmad(tmp_path)


@pytest.mark.skipif(
    not UPSTREAM,
    reason="set BOTARMY_TEST_BMAD_UPSTREAM to an upstream v4 bmad-core folder (.ci/run does)",
)
def test_upstream_v4_core_loads_completely(tmp_path: Path) -> None:
    root = Path(str(UPSTREAM))
    loaded = load_bmad(root)
    on_disk = {
        kind: {p.stem for p in (root / kind).glob("*.*")}
        for kind in ("agents", "agent-teams", "workflows", "templates")
    }
    assert set(loaded.agents) == on_disk["agents"]
    assert set(loaded.teams) == on_disk["agent-teams"]
    assert set(loaded.workflows) == on_disk["workflows"]
    assert set(loaded.templates) == on_disk["templates"]
    for workflow in loaded.workflows.values():
        assert workflow.steps and workflow.flow_diagram
    assert any(s.routes for w in loaded.workflows.values() for s in w.steps)
    # a copy of it is just as loadable: the loader reads the format, not these paths
    copy = tmp_path / "v4"
    shutil.copytree(root, copy / "bmad-core")
    if (root.parent / "common").is_dir():
        shutil.copytree(root.parent / "common", copy / "common")
    assert set(load_bmad(copy / "bmad-core").templates) == on_disk["templates"]


def test_a_loaded_core_is_reused_until_a_file_changes(core: Path) -> None:
    first = load_bmad(core)
    first.agents["pm"].name = "changed by the caller"
    again = load_bmad(core)
    assert again.agents["pm"].name == "Pat"  # callers get their own copy
    pm = core / "agents" / "pm.md"
    pm.write_text(pm.read_text().replace("name: Pat", "name: Patricia"))
    assert load_bmad(core).agents["pm"].name == "Patricia"  # an edit is picked up


DEEP_CONDITION = "(" * 100 + "a" + ")" * 100


@pytest.mark.parametrize(
    "rel, old, new, line, field, message",
    [
        (
            "agents/pm.md",
            "commands:\n  - help: show commands",
            "commands: 5",
            13,
            "commands",
            "commands must be a list or a mapping, not int",
        ),
        (
            "agents/pm.md",
            "templates:\n    - prd-tmpl.yaml",
            "templates: 5",
            16,
            "dependencies.templates",
            "depends on template '5', which does not exist",
        ),
        (
            "agents/pm.md",
            "templates:\n    - prd-tmpl.yaml",
            "templates: [[prd-tmpl.yaml]]",
            16,
            "dependencies.templates.0",
            "expected a name, not a list",
        ),
        (
            "templates/brief-tmpl.yaml",
            "repeatable: true\n    sections:",
            "repeatable: true\n    sections: 5\n    more:",
            13,
            "sections.1.sections",
            "sections must be a list, not int",
        ),
        (
            "templates/prd-tmpl.yaml",
            "sections: [{id: goals, title: Goals, type: bullet-list}]",
            "sections: 5",
            2,
            "sections",
            "sections must be a list, not int",
        ),
        (
            "templates/brief-tmpl.yaml",
            "  version: 2.0\n",
            "  version: 2.0\n  inputs: 5\n",
            5,
            "template.inputs",
            "inputs must be a list, not int",
        ),
        (
            "workflows/flow.yaml",
            "big: {agent: analyst}",
            "big: {agent: [analyst, pm]}",
            22,
            "workflow.sequence.4.routes.big.agent",
            "route 'big': agent must be a name, not a list",
        ),
        (
            "workflows/flow.yaml",
            "creates: brief.md",
            "creates: ../brief.md",
            8,
            "workflow.sequence.1.creates",
            "must not climb out of its folder with '..'",
        ),
        (
            "workflows/flow.yaml",
            "creates: prd.md",
            "creates: /tmp/prd.md",
            11,
            "workflow.sequence.2.creates",
            "must be a relative path",
        ),
        (
            "templates/brief-tmpl.yaml",
            "filename: docs/brief.md",
            "filename: ../../brief.md",
            5,
            "template.output.filename",
            "must not climb out of its folder",
        ),
        (
            "templates/prd-tmpl.yaml",
            "filename: docs/prd.md",
            "filename: /etc/prd.md",
            1,
            "template.output.filename",
            "must be a relative path",
        ),
        (
            "workflows/flow.yaml",
            "condition: brief_is_approved",
            f"condition: '{DEEP_CONDITION}'",
            13,
            "sequence.2.condition",
            "nested more than 32 levels deep",
        ),
        (
            "templates/brief-tmpl.yaml",
            "repeatable: true",
            f"repeatable: true\n    condition: '{DEEP_CONDITION}'",
            13,
            "sections.epics.condition",
            "nested more than 32 levels deep",
        ),
        (
            "templates/brief-tmpl.yaml",
            "title: Intro",
            "title: " + "[" * 200 + "]" * 200,
            8,
            None,
            "nested deeper than 64 levels",
        ),
        (
            "workflows/flow.yaml",
            "workflow:\n",
            "l0: &l0 [a, a, a, a, a, a, a, a]\n"
            + "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 8)}]\n" for i in range(1, 9))
            + "workflow:\n",
            5,
            None,
            "aliases would add more than",
        ),
        (
            "agents/analyst.md",
            "  name: Ana",
            "  name: Ana\n  icon: \x00",
            6,
            None,
            "character #x0000 is not allowed",
        ),
    ],
)
def test_bad_bmad_files_are_spec_errors_with_line_and_field(
    core: Path, rel: str, old: str, new: str, line: int, field: str | None, message: str
) -> None:
    path = core / rel
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(SpecError) as info:
        load_bmad(core, strict=True)
    assert str(path) in str(info.value) and message in str(info.value)
    assert info.value.line == line
    assert info.value.field == field
    _listed_leniently(core, path, line, message)


def test_a_bmad_file_that_is_not_utf8(core: Path) -> None:
    path = core / "agents" / "pm.md"
    path.write_bytes(path.read_bytes().replace(b"name: Pat", b"name: P\xe9t"))
    with pytest.raises(SpecError, match=r"not UTF-8 text \(byte 0xe9") as info:
        load_bmad(core, strict=True)
    assert info.value.file == str(path) and info.value.line == 5


@pytest.mark.parametrize("ref", ["~nobody-at-all/core", "x" * 5_000, "a\x00b"])
def test_core_paths_no_folder_can_have(ref: str) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_bmad(ref)


def test_a_search_path_with_an_unknown_home_is_one_clear_error(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from botarmy_nb import settings

    monkeypatch.setenv("BOTARMY_BMAD_PATH", "~nobody-here-at-all/core")
    settings.reset_settings()
    with pytest.raises(ConfigError, match="BOTARMY_BMAD_PATH: '~nobody-here-at-all/core' names"):
        load_bmad()
