"""Cores with a broken file, expansion packs, and workflows in the packs' forms (#10)."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import pytest

import botarmy_nb as ba
from botarmy_nb import settings
from botarmy_nb.bmad.loader import bundled_core_dir, load_bmad
from botarmy_nb.errors import ConfigError, SpecError

FIXTURES = Path(__file__).parent / "fixtures"
PACK = FIXTURES / "creative-writing-pack"
MALFORMED = FIXTURES / "malformed-fullstack-architecture-tmpl.yaml"
UPSTREAM = os.environ.get("BOTARMY_TEST_BMAD_UPSTREAM")
FULL_PACK = os.environ.get("BOTARMY_TEST_BMAD_PACK")  # a whole upstream pack, optional


def _use(monkeypatch: pytest.MonkeyPatch, *roots: Path | str) -> None:
    monkeypatch.setenv("BOTARMY_BMAD_PATH", os.pathsep.join(str(r) for r in roots))
    settings.reset_settings()


# -- a core with one malformed file --------------------------------------------------------


@pytest.fixture
def broken_upstream(tmp_path: Path) -> Path:
    """A copy of the upstream core whose fullstack-architecture-tmpl has v4.30.0's defect."""
    if not UPSTREAM:
        pytest.skip("set BOTARMY_TEST_BMAD_UPSTREAM to the upstream v4.44.3 bmad-core")
    source = Path(UPSTREAM)
    shutil.copytree(source, tmp_path / "bmad-core")
    if (source.parent / "common").is_dir():
        shutil.copytree(source.parent / "common", tmp_path / "common")
    shutil.copy(
        MALFORMED, tmp_path / "bmad-core" / "templates" / "fullstack-architecture-tmpl.yaml"
    )
    return tmp_path / "bmad-core"


def test_a_malformed_template_is_listed_and_the_rest_loads(broken_upstream: Path) -> None:
    core = load_bmad(broken_upstream)
    bad = broken_upstream / "templates" / "fullstack-architecture-tmpl.yaml"
    assert [(p.file, p.line, p.kind) for p in core.problems] == [(str(bad), 23, "templates")]
    assert "fullstack-architecture-tmpl" not in core.templates
    assert len(core.templates) == 12 and len(core.workflows) == 6 and len(core.agents) == 10
    with pytest.raises(SpecError) as info:  # what a core author's CI wants
        load_bmad(broken_upstream, strict=True)
    assert info.value.file == str(bad) and info.value.line == 23


def test_only_the_workflow_that_needs_the_broken_file_is_refused(
    broken_upstream: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(monkeypatch, broken_upstream)
    variables = {"project_name": "Wiki"}
    with pytest.raises(SpecError, match="fullstack-architecture-tmpl") as info:
        ba.run("x", workflow="greenfield-fullstack", variables=variables)
    assert info.value.file and info.value.file.endswith("fullstack-architecture-tmpl.yaml")
    assert "step 5" in str(info.value)
    with pytest.raises(SpecError, match="did not load"):
        ba.run("x", template="fullstack-architecture-tmpl", variables=variables)
    run = ba.run("A wiki", workflow="greenfield-service", variables=variables).wait(300)
    assert run.status == "completed", run.record.error
    assert "architecture.md" in set(run.artifacts["name"])


def test_a_broken_bundled_copy_refuses_what_uses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = tmp_path / "core"
    shutil.copytree(bundled_core_dir(), core)
    shutil.copy(MALFORMED, core / "templates" / "architecture-tmpl.yaml")
    loaded = load_bmad(core)
    assert [p.name for p in loaded.problems] == ["architecture-tmpl"]
    _use(monkeypatch, core)
    with pytest.raises(SpecError, match="architecture-tmpl"):
        ba.run("x", workflow="greenfield-service", variables={"project_name": "W"})
    run = ba.run("x", template="prd-tmpl", variables={"project_name": "W"}).wait(120)
    assert run.status == "completed", run.record.error


# -- expansion packs -----------------------------------------------------------------------


def test_a_pack_loads_beside_the_core() -> None:
    core = load_bmad([bundled_core_dir(), PACK])
    assert {"plot-architect", "narrative-designer", "editor", "beta-reader"} <= set(core.agents)
    assert {"pm", "architect"} <= set(core.agents)  # the core's agents too
    flow = core.workflows["short-story-creation"]
    assert [s.step for s in flow.steps][:2] == ["Generate premise", "Create compact outline"]
    assert flow.steps[1].requires == ["premise"] and flow.steps[1].creates == "outline"
    assert "story-outline-tmpl" in core.templates
    unsupported = [p for p in core.problems if p.name == "book-cover-design-workflow"]
    assert unsupported and "unsupported workflow format: Markdown" in unsupported[0].reason
    # the fixture is a subset: the files its agents depend on but that it lacks are listed
    assert all(p.kind in ("agents", "workflows") for p in core.problems)
    with pytest.raises(SpecError):
        load_bmad([bundled_core_dir(), PACK], strict=True)


def test_a_pack_workflow_in_the_steps_form_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    _use(monkeypatch, PACK)
    run = ba.run(
        "A ghost story set in a lighthouse",
        workflow="short-story-creation",
        variables={"working_title": "Keeper", "genre": "horror"},
    ).wait(120)
    assert run.status == "completed", run.record.error
    names = list(run.artifacts["name"])
    assert names == [
        f"{n}.md"
        for n in (
            "premise",
            "outline",
            "draft-story",
            "tightened-story",
            "beta-feedback",
            "final-story",
        )
    ]
    prompts = run.messages.query("type == 'prompt'")["content"]
    assert any("--- premise.md ---" in p for p in prompts)  # inputs: premise → its document
    with pytest.raises(ConfigError, match=r"book-cover-design-workflow.*Markdown"):
        ba.run("x", workflow="book-cover-design-workflow")


GAME_AGENT = """\
# {id}

```yaml
agent:
  name: {name}
  id: {id}
  title: {title}
persona:
  role: {title}
dependencies:
  templates: []
```
"""

GAME_FLOW = """\
workflow:
  id: game-flow
  name: A game in two ways
  type: prototype
  full_game_sequence:
    - step: concept
      agent: game-designer
      creates: game-brief.md
    - step: design
      agent: game-designer
      creates: game-design.md
      requires: game-brief.md
  prototype_sequence:
    - step: jam_concept
      agent: game-designer
      duration: 10 minutes
      creates: jam-concept.md
    - step: jam_build
      agent: game-developer
      creates: build-notes.md
      requires: jam-concept.md, jam_theme
  jam_workflow_end:
    action: jam_submission
"""


@pytest.fixture
def game_pack(tmp_path: Path) -> Path:
    root = tmp_path / "game-pack"
    for agent_id, title in (("game-designer", "Game Designer"), ("game-developer", "Developer")):
        path = root / "agents" / f"{agent_id}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(GAME_AGENT.format(id=agent_id, name=title.split()[0], title=title))
    (root / "workflows").mkdir()
    (root / "workflows" / "game-flow.yaml").write_text(textwrap.dedent(GAME_FLOW))
    return root


def test_named_sequences_run_the_first_or_the_one_asked_for(
    game_pack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = load_bmad([game_pack, bundled_core_dir()]).workflows["game-flow"]
    assert list(flow.sequences) == ["full_game_sequence", "prototype_sequence"]
    assert flow.sequence("prototype")[1].requires == ["jam-concept.md", "jam_theme"]
    _use(monkeypatch, game_pack)
    first = ba.run("A puzzle game", workflow="game-flow").wait(120)
    assert list(first.artifacts["name"]) == ["game-brief.md", "game-design.md"]
    chosen = ba.run("A puzzle game", workflow="game-flow", variables={"sequence": "prototype"})
    chosen.wait(120)
    assert list(chosen.artifacts["name"]) == ["jam-concept.md", "build-notes.md"]
    with pytest.raises(ConfigError, match=r"has no sequence 'tutorial'.*full_game_sequence"):
        ba.run("x", workflow="game-flow", variables={"sequence": "tutorial"})


@pytest.mark.skipif(not FULL_PACK, reason="set BOTARMY_TEST_BMAD_PACK to a whole upstream pack")
def test_every_yaml_workflow_of_a_whole_pack_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    core = load_bmad([str(FULL_PACK), bundled_core_dir()])
    mine = [k for k, w in core.workflows.items() if w.source.startswith(str(FULL_PACK))]
    assert mine
    _use(monkeypatch, str(FULL_PACK))
    runs = {w: ba.run("A novel about a lighthouse keeper", workflow=w) for w in mine}
    for workflow, run in runs.items():
        run.wait(300)
        assert run.status == "completed", (workflow, run.record.error)
        assert not run.artifacts.empty, workflow
