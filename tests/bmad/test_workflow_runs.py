"""BMAD-compatible workflows and templates executed for real on the scripted model."""

from __future__ import annotations

import sqlite3

import pytest
from IPython.core.error import UsageError

import botarmy_nb as ba
from botarmy_nb.errors import ConfigError, NotFoundError

VARS = {"project_name": "OfflineWiki", "has_ui": "true"}


def _artifact_names(run: ba.Run) -> list[str]:
    return list(run.artifacts["name"])


def test_greenfield_workflow_produces_every_artifact_in_order(botarmy_home) -> None:  # type: ignore[no-untyped-def]
    run = ba.run(
        "A team wiki that works offline", workflow="greenfield-fullstack", variables=VARS
    ).wait(120)
    assert run.status == "completed", run.record.error
    core = ba.load_bmad()
    declared = core.workflows["greenfield-fullstack"].artifacts
    made = _artifact_names(run)
    for name in declared:  # repeated steps make story-1.md, story-2.md …
        stem = name.removesuffix(".md")
        assert name in made or f"{stem}-1.md" in made, name
    order = [
        next(i for i, m in enumerate(made) if m.startswith(n.removesuffix(".md"))) for n in declared
    ]
    assert order == sorted(order)
    prd = run.artifact("prd.md")
    assert prd.content.startswith("# OfflineWiki") and prd.agent == "pm"
    assert (botarmy_home / "artifacts" / run.id / "prd.md").read_text() == prd.content
    # context is passed explicitly: the PM's prompts carry the brief, and it is recorded
    prompts = run.messages.query("type == 'prompt'")["content"]
    brief = run.artifact("project-brief.md").content
    assert any("--- project-brief.md ---" in p and brief[:200] in p for p in prompts)
    # a step that uses a checklist gets the checklist's text to follow
    assert any("Follow this checklist (po-checklist.md)" in p and "- [ ]" in p for p in prompts)
    steps = run.steps
    finished = steps.query("phase == 'finished'").drop_duplicates("step")  # cycles repeat
    assert list(finished["step"]) == sorted(finished["step"])
    assert steps.query("phase == 'skipped'")["reason"].str.startswith("optional").all()


def test_conditions_skip_steps_and_are_recorded(botarmy_home) -> None:  # type: ignore[no-untyped-def]
    run = ba.run(
        "A CLI tool",
        workflow="greenfield-fullstack",
        variables={"project_name": "Tool", "has_ui": "false"},
    ).wait(120)
    assert run.status == "completed"
    assert "front-end-spec.md" not in _artifact_names(run)
    skipped = [e for e in run.events if e.type == "step" and e.phase == "skipped"]
    given = [e for e in skipped if e.reason.startswith("condition not met: has_ui")]
    assert given and given[0].decided_by == "variables" and given[0].decision == "no"


def test_a_condition_no_variable_names_is_decided_by_the_agent(botarmy_home) -> None:  # type: ignore[no-untyped-def]
    run = ba.run(
        "A CLI tool", workflow="greenfield-fullstack", variables={"project_name": "Tool"}
    ).wait(120)  # has_ui not given: the step's agent decides, with its reason
    assert run.status == "completed", run.record.error
    steps = [e for e in run.events if e.type == "step"]
    decided = [e for e in steps if e.decided_by not in (None, "variables")]
    assert decided and all(e.decision in ("yes", "no") and e.reason for e in decided)
    prompts = run.messages.query("type == 'prompt'")["content"]
    assert any("whether this holds: has_ui" in p for p in prompts)


def test_a_template_alone_becomes_one_document(botarmy_home) -> None:  # type: ignore[no-untyped-def]
    run = ba.run(
        "Plan the sync engine", template="prd-tmpl", variables={"project_name": "Sync"}
    ).wait(60)
    assert run.status == "completed" and _artifact_names(run) == ["prd.md"]
    assert run.record.template == "prd-tmpl"
    text = run.artifact("prd.md").content
    assert "## " in text and "| " in text and "1. " in text  # sections, a table, a list


def test_routes_are_decided_and_recorded(botarmy_home) -> None:  # type: ignore[no-untyped-def]
    run = ba.run(
        "Add SSO to the existing service",
        workflow="brownfield-service",
        variables={"project_name": "Legacy"},
    ).wait(120)
    assert run.status == "completed", run.record.error
    prompts = run.messages.query("type == 'prompt'")["content"]
    assert any("Answer with the option name only." in p for p in prompts)
    chosen = ba.run(
        "Add SSO",
        workflow="brownfield-service",
        variables={"project_name": "Legacy", "route": "major_enhancement"},
    )
    chosen.wait(120)
    assert not any(
        "Answer with the option name only." in p
        for p in chosen.messages.query("type == 'prompt'")["content"]
    )


def test_elicit_sections_record_the_default_answer(botarmy_home) -> None:  # type: ignore[no-untyped-def]
    run = ba.run("x", template="prd-tmpl", variables={"project_name": "P"}).wait(60)
    with sqlite3.connect(botarmy_home / "botarmy.db") as conn:
        rows = conn.execute(
            "SELECT status, response FROM hitl_requests WHERE run_id = ?", (run.id,)
        ).fetchall()
    assert rows and all(s == "default" and "no human attached" in r for s, r in rows)


def test_bad_input_is_caught_before_the_run(botarmy_home) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="needs values for: project_name"):
        ba.run("x", workflow="greenfield-service")
    with pytest.raises(NotFoundError, match="did you mean 'greenfield-service'"):
        ba.run("x", workflow="greenfield-servce", variables=VARS)
    with pytest.raises(NotFoundError, match="unknown template 'prd'"):
        ba.run("x", template="prd", variables=VARS)
    with pytest.raises(ConfigError, match="one of --team, --workflow or --template"):
        ba.run("x", team="writers-room", workflow="greenfield-service")
    assert ba.runs().empty


def test_a_crashed_workflow_resumes_at_its_step(botarmy_home, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from botarmy_nb.engine import workflow as engine

    real = engine.WorkflowExecution.run_step
    crashed = {"done": False}

    async def crash_once(self, step):  # type: ignore[no-untyped-def]
        if step.index == 2 and not crashed["done"]:
            crashed["done"] = True
            raise RuntimeError("worker lost")
        return await real(self, step)

    monkeypatch.setattr(engine.WorkflowExecution, "run_step", crash_once)
    run = ba.run("x", workflow="greenfield-service", variables=VARS).wait(120)
    assert run.status == "failed" and "worker lost" in run.record.error
    assert _artifact_names(run) == ["project-brief.md", "prd.md"]
    resumed = ba.resume(run.id[:8]).wait(120)
    assert resumed.status == "completed", resumed.record.error
    started = resumed.steps.query("phase == 'started'")["step"].tolist()
    assert started.count(1) == 1 and started.count(2) == 1  # finished steps did not rerun
    assert "architecture.md" in _artifact_names(resumed)
    seqs = [e.seq for e in resumed.events]
    assert seqs == list(range(1, len(seqs) + 1))  # one gapless sequence across the resume
    with pytest.raises(ConfigError, match="already completed"):
        ba.resume(run.id)


def test_workflow_magics(botarmy_home, capsys) -> None:  # type: ignore[no-untyped-def]
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.testing.globalipapp import start_ipython

    start_ipython()
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "botarmy_nb")
    flows = ip.run_line_magic("botarmy", "workflows")
    assert {"greenfield-fullstack", "greenfield-service", "brownfield-service"} <= set(
        flows["name"]
    )
    templates = ip.run_line_magic("botarmy", "templates")
    prd = templates.set_index("name").loc["prd-tmpl"]
    assert prd["required inputs"] == "project_name" and "epic_title" in prd["variables"]
    ip.run_line_magic("botarmy", "workflows greenfield-service")
    ip.run_cell_magic(
        "botarmy", "--workflow greenfield-service --var project_name=Wiki --wait", "A wiki"
    )
    run = ba.last_run()
    assert run.status == "completed" and run.record.workflow == "greenfield-service"
    with pytest.raises(UsageError, match="needs values for: project_name"):
        ip.run_cell_magic("botarmy", "--template prd-tmpl", "x")


def test_missing_inputs_name_the_template_file_and_line(botarmy_home) -> None:  # type: ignore[no-untyped-def]
    from botarmy_nb.errors import SpecError

    with pytest.raises(SpecError) as info:
        ba.run("x", template="story-tmpl", variables={"project_name": "P"})
    assert "story-tmpl.yaml" in str(info.value) and info.value.field == "template.inputs"
    assert info.value.line is not None and "epic_number" in str(info.value)


def test_documents_export_to_their_output_filenames(botarmy_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = ba.run("x", workflow="greenfield-service", variables=VARS).wait(120)
    written = {p.relative_to(tmp_path).as_posix() for p in run.export_artifacts(tmp_path)}
    assert {"docs/prd.md", "docs/architecture.md", "story-1.md"} <= written
    assert (tmp_path / "docs" / "prd.md").read_text() == run.artifact("prd.md").content
    # with no list variable, the owner decides how many entries a repeatable section gets
    prompts = run.messages.query("type == 'prompt'")["content"]
    assert any("How many 'Epic" in p for p in prompts)
    prd = run.artifact("prd.md").content
    assert "## Epic 1:" in prd and "## Epic 2:" in prd and "## Epic 3:" not in prd


def test_step_events_show_progress_through_the_story_cycle(botarmy_home) -> None:  # type: ignore[no-untyped-def]
    run = ba.run("x", workflow="greenfield-service", variables=VARS).wait(120)
    steps = [e for e in run.events if e.type == "step"]
    gates = [e for e in steps if e.phase == "finished" and e.label.startswith("qa-gate.md")]
    # the story cycle (draft → implement → gate) runs once per story, numbered
    assert [e.artifact for e in gates] == [f"qa-gate-{n}.md" for n in range(1, len(gates) + 1)]
    assert len(gates) >= 2 and "(story 1.1)" in gates[0].label
    assert steps[-1].label == "workflow_end" and steps[-1].phase == "finished"


# -- export_artifacts never leaves its folder (#7 item 3) --------------------------------


@pytest.fixture
def user_core(tmp_path, monkeypatch, botarmy_home):  # type: ignore[no-untyped-def]
    """A copy of the bundled core, first on BOTARMY_BMAD_PATH, that a test may edit."""
    import shutil

    from botarmy_nb import settings
    from botarmy_nb.bmad.loader import bundled_core_dir

    core = tmp_path / "user-core"
    shutil.copytree(bundled_core_dir(), core)
    monkeypatch.setenv("BOTARMY_BMAD_PATH", str(core))
    settings.reset_settings()
    return core


def _files(folder) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_export_refuses_an_output_filename_out_of_the_folder(user_core, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = ba.run("x", template="project-brief-tmpl", variables={"project_name": "P"}).wait(60)
    assert run.status == "completed", run.record.error
    out = tmp_path / "export" / "inner"
    written = run.export_artifacts(out)
    assert [p.relative_to(out).as_posix() for p in written] == ["docs/project-brief.md"]
    # the core changes after the run: export reads output.filename from it again
    template = user_core / "templates" / "project-brief-tmpl.yaml"
    text = template.read_text()
    assert "filename: docs/project-brief.md" in text
    escape = "../../project-brief.md"  # same base name: still this template's document
    template.write_text(text.replace("filename: docs/project-brief.md", f"filename: {escape}"))
    again = tmp_path / "again" / "inner"
    try:  # refused, or (the template no longer loads) written under its own name inside
        written = run.export_artifacts(again)
    except ConfigError as exc:
        assert "project-brief" in str(exc)
        written = []
    assert all(p.resolve().is_relative_to(again.resolve()) for p in written)
    assert not (tmp_path / "project-brief.md").exists()


def test_export_refuses_stored_names_and_symlinks_out_of_the_folder(botarmy_home, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from botarmy_nb.events import ArtifactEvent

    run = ba.run("x", template="project-brief-tmpl", variables={"project_name": "P"}).wait(60)
    assert run.status == "completed", run.record.error
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "export"
    target.mkdir()
    (target / "docs").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ConfigError, match="leads outside"):
        run.export_artifacts(target)
    assert _files(outside) == []
    (target / "docs").unlink()
    # a bundle or an older version may have stored any name: nothing is written then
    last = run.events[-1].seq
    run._store.append_events(
        [ArtifactEvent(run_id=run.id, seq=last + 1, name="../../evil.md", content="x")]
    )
    with pytest.raises(ConfigError, match=r"artifact name of run .*'\.\./\.\./evil\.md'"):
        run.export_artifacts(target)
    assert list(tmp_path.rglob("evil.md")) == []
    assert _files(target) == []
