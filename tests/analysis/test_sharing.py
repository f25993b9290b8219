"""Transcripts as Markdown, artifacts exported from the database alone, the scripted
label in the model column (and the views), and the export/import commands."""

from __future__ import annotations

import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import botarmy_nb as ba
from botarmy_nb.analysis.cli import export_command, import_command
from botarmy_nb.render import event_html


def test_markdown_transcript_names_agents_models_and_artifacts(botarmy_home: Path) -> None:
    run = ba.run("Write a note about ```fences```", name="md", tags={"exp": "a"}).wait(30)
    text = run.to_markdown()
    assert text.startswith("# md\n") and "| tags | exp=a |" in text
    assert "### writer · scripted:scripted [offline scripted model, not a real LLM]" in text
    assert "## Artifacts" in text and "### draft.md" in text and "\n````markdown\n" in text
    assert "> Review of writer's work" in text


def test_the_scripted_label_is_in_the_model_column_not_the_text(botarmy_home: Path) -> None:
    run = ba.run("Write", name="labels").wait(30)
    said = run.messages.query("agent != 'user'")
    assert not said["content"].str.contains(r"\[scripted model\]").any()
    assert said["model"].astype(str).eq("scripted:scripted").all()
    event = next(e for e in run.events if e.type == "message" and e.agent == "writer")
    assert "[scripted]" in (event_html(event, {}) or "")


def test_export_artifacts_needs_no_local_files_or_bmad_folders(
    botarmy_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botarmy_nb import settings as settings_module

    core = tmp_path / "authors-core"
    shutil.copytree(Path(__file__).parents[2] / "bmad-core", core)
    monkeypatch.setenv("BOTARMY_BMAD_PATH", str(core))
    settings_module.reset_settings()
    run = ba.run("Plan it", template="prd-tmpl", variables={"project_name": "W"}, name="doc").wait(
        120
    )
    assert str(core) in str(run.record.spec.get("bmad_roots"))
    # a teammate's machine: neither the author's core nor the author's artifact files
    monkeypatch.delenv("BOTARMY_BMAD_PATH")
    settings_module.reset_settings()
    shutil.rmtree(core)
    shutil.rmtree(botarmy_home / "artifacts")
    written = run.export_artifacts(tmp_path / "out")
    assert [p.relative_to(tmp_path / "out").as_posix() for p in written] == ["docs/prd.md"]
    assert written[0].read_text(encoding="utf-8") == run.artifact("prd.md").content


def test_export_and_import_commands(botarmy_home: Path, tmp_path: Path) -> None:
    run = ba.run("Write", name="cli").wait(30)

    @click.group()
    def cli() -> None:
        pass

    cli.add_command(export_command)
    cli.add_command(import_command)
    runner = CliRunner()
    target = tmp_path / "cli.zip"
    result = runner.invoke(cli, ["export", "cli", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert f"exported run {run.id[:8]}" in result.output
    md = runner.invoke(cli, ["export", run.id[:8], "--markdown", "-o", str(tmp_path / "t.md")])
    assert md.exit_code == 0 and (tmp_path / "t.md").read_text().startswith("# cli")
    again = runner.invoke(cli, ["import", str(target)])
    assert "was already here: nothing added" in again.output
    other = f"sqlite:///{tmp_path / 'o.db'}"
    from botarmy_nb.store.base import open_store

    open_store(other)
    fresh = runner.invoke(cli, ["import", str(target), "--database-url", other])
    assert fresh.exit_code == 0 and f"imported run {run.id[:8]}" in fresh.output
