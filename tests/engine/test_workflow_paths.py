"""File names from BMAD cores: checked before a run, and again where the engine writes."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from autogen_core import CancellationToken

import botarmy_nb as ba
from botarmy_nb.bmad.loader import bundled_core_dir, load_bmad
from botarmy_nb.bmad.models import BmadCore
from botarmy_nb.engine.workflow import WorkflowExecution
from botarmy_nb.errors import ConfigError, NotFoundError, SpecError
from botarmy_nb.paths import validate_bmad_paths

UPSTREAM = os.environ.get("BOTARMY_TEST_BMAD_UPSTREAM")


def _step(core: BmadCore, workflow: str, creates: str) -> Any:
    return next(s for s in core.workflows[workflow].steps if s.creates == creates)


# -- before the run: validate_bmad_paths -------------------------------------------------


def test_the_bundled_core_passes() -> None:
    core = load_bmad()
    validate_bmad_paths(core)
    for name in core.workflows:
        validate_bmad_paths(core, workflow=name)
    for name in core.templates:
        validate_bmad_paths(core, template=name)


@pytest.mark.skipif(not UPSTREAM, reason="set BOTARMY_TEST_BMAD_UPSTREAM (.ci/run does)")
def test_an_upstream_core_passes() -> None:
    validate_bmad_paths(load_bmad(str(UPSTREAM)))  # "sharded_docs", "v0_prompt (optional)"


@pytest.mark.parametrize(
    "creates, reason",
    [
        ("../../x.md", "contains a '..' component"),
        ("/tmp/x.md", "is an absolute path"),
        ("docs\\..\\x.md", "contains a backslash"),
        ("x" * 300 + ".md", "is 303 characters long (at most 200)"),
    ],
)
def test_a_step_creating_outside_names_file_line_and_field(creates: str, reason: str) -> None:
    core = load_bmad()
    step = _step(core, "greenfield-service", "project-brief.md")
    step.creates = creates
    with pytest.raises(SpecError, match=re.escape(reason)) as info:
        validate_bmad_paths(core, workflow="greenfield-service")
    error = info.value
    assert error.file is not None and error.file.endswith("greenfield-service.yaml")
    assert error.field == f"sequence.{step.index}.creates"
    lines = Path(error.file).read_text().splitlines()
    assert error.line is not None and lines[error.line - 1].strip().startswith("creates:")
    validate_bmad_paths(core, workflow="greenfield-fullstack")  # other workflows still run


def test_a_repeated_step_is_checked_with_its_number() -> None:
    core = load_bmad()
    step = _step(core, "greenfield-service", "story.md")
    step.creates = "s" * 197 + ".md"  # 200 characters: story-5 would be 202
    with pytest.raises(SpecError, match="202 characters") as info:
        validate_bmad_paths(core, workflow="greenfield-service")
    assert info.value.field == f"sequence.{step.index}.creates"


def test_a_template_output_filename_outside_is_refused() -> None:
    core = load_bmad()
    core.templates["prd-tmpl"].output_filename = "../../prd.md"
    with pytest.raises(SpecError, match=re.escape("'..' component")) as info:
        validate_bmad_paths(core, template="prd-tmpl")
    assert info.value.file and info.value.file.endswith("prd-tmpl.yaml")
    assert info.value.field == "template.output.filename" and info.value.line is not None
    # a workflow that uses it is refused too, naming the template file
    with pytest.raises(SpecError, match=re.escape("prd-tmpl.yaml")):
        validate_bmad_paths(core, workflow="greenfield-service")
    with pytest.raises(SpecError):
        validate_bmad_paths(core)
    validate_bmad_paths(core, template="architecture-tmpl")


def test_a_route_template_is_checked() -> None:
    core = load_bmad()
    routes = [
        str(target["uses"])
        for step in core.workflows["brownfield-service"].steps
        for target in (step.routes or {}).values()
        if isinstance(target, dict) and target.get("uses")
    ]
    assert routes
    template = core.template(routes[0])
    assert template is not None
    template.output_filename = "/etc/" + (template.artifact or "x.md")
    with pytest.raises(SpecError, match="absolute path"):
        validate_bmad_paths(core, workflow="brownfield-service")


def test_unknown_names_are_not_found() -> None:
    core = load_bmad()
    with pytest.raises(NotFoundError, match="greenfield-service"):
        validate_bmad_paths(core, workflow="greenfield-servce")
    with pytest.raises(NotFoundError, match="unknown template 'prd'"):
        validate_bmad_paths(core, template="prd")


# -- where the engine writes --------------------------------------------------------------


class _Events:
    """A recorder that keeps what the engine emits, in memory."""

    run_id = "run1"

    def __init__(self) -> None:
        self.events: list[Any] = []

    def emit(self, event: Any, **_: Any) -> Any:
        self.events.append(event)
        return event


def _execution(tmp_path: Path, recorder: _Events) -> WorkflowExecution:
    return WorkflowExecution(
        run_id="run1",
        core=load_bmad(),
        task="A wiki",
        variables={"project_name": "Wiki"},
        recorder=recorder,  # type: ignore[arg-type]
        publish=lambda event: None,
        token=CancellationToken(),
        default_model="scripted",
        agent_models={},
        artifacts_dir=tmp_path / "artifacts",
    )


@pytest.mark.parametrize("name", ["../../escape.md", "/tmp/botarmy-escape.md", "a" * 250])
def test_the_engine_refuses_a_name_before_drafting(tmp_path: Path, name: str) -> None:
    recorder = _Events()
    execution = _execution(tmp_path, recorder)
    template = execution.core.template("project-brief-tmpl")
    assert template is not None
    with pytest.raises(ConfigError, match=r"^artifact name \(template project-brief-tmpl\)"):
        asyncio.run(execution.document(template, "analyst", [], execution.scope(), name))
    assert recorder.events == []  # no model turn was spent on a document it cannot write
    assert not Path("/tmp/botarmy-escape.md").exists()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_the_engine_writes_under_the_run_folder_only(tmp_path: Path) -> None:
    recorder = _Events()
    execution = _execution(tmp_path, recorder)
    template = execution.core.template("project-brief-tmpl")
    assert template is not None
    text = asyncio.run(
        execution.document(template, "analyst", [], execution.scope(), "docs/brief.md")
    )
    written = tmp_path / "artifacts" / "run1" / "docs" / "brief.md"
    assert written.read_text() == text and text.startswith("# Wiki")
    assert recorder.events[-1].path == str(written)
    # a folder replaced by a symlink out of the run folder is not followed
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.rmtree(written.parent)
    written.parent.symlink_to(outside, target_is_directory=True)
    with pytest.raises(ConfigError, match="leads outside"):
        asyncio.run(execution.document(template, "analyst", [], execution.scope(), "docs/b.md"))
    assert list(outside.iterdir()) == []


# -- a real run on a core folder from BOTARMY_BMAD_PATH -----------------------------------


@pytest.fixture
def user_core(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, botarmy_home: Path) -> Path:
    from botarmy_nb import settings

    core = tmp_path / "user-core"
    shutil.copytree(bundled_core_dir(), core)
    monkeypatch.setenv("BOTARMY_BMAD_PATH", str(core))
    settings.reset_settings()
    return core


@pytest.mark.parametrize("target", ["../../escape.md", "ABSOLUTE"])
def test_a_workflow_run_never_writes_outside_its_folder(
    user_core: Path, tmp_path: Path, target: str
) -> None:
    if target == "ABSOLUTE":
        target = str(tmp_path / "escape.md")
    flow = user_core / "workflows" / "greenfield-service.yaml"
    text = flow.read_text()
    for key in ("creates", "requires"):  # the PRD step requires what the first step makes
        assert f"{key}: project-brief.md" in text
        text = text.replace(f"{key}: project-brief.md", f"{key}: {target}", 1)
    flow.write_text(text)
    try:
        run = ba.run("A wiki", workflow="greenfield-service", variables={"project_name": "W"})
    except SpecError as exc:  # refused before the run (the pre-run check, or the loader)
        assert exc.file is not None and exc.file.endswith("greenfield-service.yaml")
    else:  # refused where the engine writes: the run fails on the first step
        run.wait(120)
        assert run.status == "failed" and "artifact name" in (run.record.error or "")
        assert run.artifacts.empty
    assert [p for p in tmp_path.rglob("escape.md")] == []
