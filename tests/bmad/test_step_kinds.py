"""Template resolution, numbering, YAML templates and human decisions (#10), one by one."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

import botarmy_nb as ba
from botarmy_nb import settings
from botarmy_nb.bmad.document import repeat_scope
from botarmy_nb.bmad.loader import load_bmad
from botarmy_nb.bmad.models import TemplateSection, WorkflowStep
from botarmy_nb.bmad.resolve import document_name, resolve_template, step_kind

FIXTURES = Path(__file__).parent / "fixtures"


def test_numbers_count_at_every_depth() -> None:
    epic = TemplateSection(id="epic", title="Epic {{epic_number}} {{epic_title}}", repeatable=True)
    story = TemplateSection(
        id="story", title="Story {{epic_number}}.{{story_number}} {{story_title}}", repeatable=True
    )
    seen = []
    for e in (1, 2):
        outer = repeat_scope(epic, {}, {}, e)
        for s in (1, 2):
            inner = repeat_scope(story, outer, {}, s)
            seen.append((inner["epic_number"], inner["story_number"], inner["story_num"]))
    assert seen == [(1, 1, 1), (1, 2, 2), (2, 1, 1), (2, 2, 2)]


def test_document_names_and_kinds() -> None:
    assert document_name("prd.md (if needed)") == "prd.md"
    assert document_name("brownfield-architecture.md (or multiple documents)") == (
        "brownfield-architecture.md"
    )
    assert document_name("sharded_docs") is None
    core = load_bmad()
    kinds = {
        "route": WorkflowStep(index=0, routes={"a": {}}),
        "validate": WorkflowStep(index=0, agent="po", validates="all_artifacts"),
        "task": WorkflowStep(index=0, agent="po", action="shard_documents", creates="sharded"),
        "create": WorkflowStep(index=0, agent="pm", creates="prd.md"),
        "update": WorkflowStep(index=0, agent="pm", updates="prd.md"),
        "action": WorkflowStep(index=0, agent="po", action="guide"),
        "marker": WorkflowStep(index=0, step="workflow_end"),
    }
    assert {k: step_kind(core, s) for k, s in kinds.items()} == {k: k for k in kinds}


def test_resolution_order_and_warnings() -> None:
    core = load_bmad()
    named = WorkflowStep(index=0, agent="pm", creates="x.md", uses="prd-tmpl")
    assert resolve_template(core, named, ["pm"]).rule == "uses"
    noted = WorkflowStep(index=0, agent="pm", creates="x.md", notes="Write it with prd-tmpl.")
    assert resolve_template(core, noted, ["pm"]).rule == "notes"
    stem = WorkflowStep(index=0, agent="pm", creates="prd.md")
    found = resolve_template(core, stem, ["pm"])
    assert found.rule == "stem" and found.template and found.template.file_stem == "prd-tmpl"
    missing = WorkflowStep(index=0, agent="pm", creates="roadmap.md")
    nothing = resolve_template(core, missing, ["pm"])
    assert nothing.template is None and "no template for roadmap.md" in (nothing.warning or "")


def test_a_missing_template_is_a_visible_warning(botarmy_home, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from botarmy_nb.bmad.loader import bundled_core_dir

    core = tmp_path / "core"
    shutil.copytree(bundled_core_dir(), core)
    flow = core / "workflows" / "greenfield-service.yaml"
    text = flow.read_text().replace("      uses: project-brief-tmpl\n", "", 1)
    flow.write_text(
        text.replace("creates: project-brief.md", "creates: vision.md", 1).replace(
            "requires: project-brief.md", "requires: vision.md", 1
        )
    )
    monkeypatch.setenv("BOTARMY_BMAD_PATH", str(core))
    settings.reset_settings()
    run = ba.run("x", workflow="greenfield-service", variables={"project_name": "W"}).wait(120)
    assert run.status == "completed", run.record.error
    first = next(e for e in run.events if e.type == "step" and e.phase == "finished")
    assert first.artifact == "vision.md" and "no template for vision.md" in (first.warning or "")


def test_a_yaml_template_produces_yaml_with_its_fields(botarmy_home, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os

    upstream = os.environ.get("BOTARMY_TEST_BMAD_UPSTREAM")
    if not upstream:
        pytest.skip("set BOTARMY_TEST_BMAD_UPSTREAM (its qa-gate-tmpl is format: yaml)")
    monkeypatch.setenv("BOTARMY_BMAD_PATH", upstream)
    settings.reset_settings()
    run = ba.run("Gate the login story", template="qa-gate-tmpl").wait(60)
    assert run.status == "completed", run.record.error
    [artifact] = list(run._store.artifacts(run.id))
    assert artifact.format == "yaml" and artifact.name.endswith(".yml")
    assert "{{" not in artifact.name and "{{" not in artifact.content
    data = yaml.safe_load(artifact.content)
    template = load_bmad(upstream).templates["qa-gate-tmpl"]
    expected = [k for k in template.fields if k not in ("examples", "optional_fields_examples")]
    assert list(data) == expected
    assert data["gate"] in ("PASS", "CONCERNS", "FAIL", "WAIVED") and data["story"] == "1.1"
    assert run.model_calls.shape[0] >= 1  # the values came from the drafting agent


def test_a_human_decides_a_condition_when_one_is_attached(botarmy_home) -> None:  # type: ignore[no-untyped-def]
    run = ba.run(
        "A CLI tool",
        workflow="greenfield-fullstack",
        variables={"project_name": "Tool"},
        hitl_timeout_s=30,
    )
    answered: set[str] = set()
    deadline = time.monotonic() + 120
    while run.status not in ("completed", "failed") and time.monotonic() < deadline:
        for event in run.events:
            if event.type != "hitl_request" or event.request_id in answered:
                continue
            # conditions get "no" from the human; drafts are approved
            text = "no" if event.options == ["yes", "no"] else "approve"
            run.answer(event.request_id, text)
            answered.add(event.request_id)
        time.sleep(0.2)
    run.wait(30)
    assert run.status == "completed", run.record.error
    skipped = [e for e in run.events if e.type == "step" and e.decided_by == "human"]
    assert skipped and all(e.phase == "skipped" and e.decision == "no" for e in skipped)
    assert any("has_ui" in e.reason for e in skipped)
