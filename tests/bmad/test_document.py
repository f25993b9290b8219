"""Rendering a template into Markdown: variables, conditions, repeats, section types."""

from __future__ import annotations

from pathlib import Path

import pytest

from botarmy_nb.bmad.document import missing_inputs, render_document
from botarmy_nb.bmad.parse import parse_template
from botarmy_nb.errors import ConfigError

TEMPLATE = """\
template:
  id: doc
  name: Doc
  version: 1.0
  inputs: [{name: project_name, required: true}, {name: audience, required: false}]
  output: {format: markdown, filename: docs/doc.md, title: "{{project_name}} Plan"}
sections:
  - id: goals
    title: Goals
    type: bullet-list
  - id: requirements
    title: Requirements
    type: numbered-list
    prefix: FR
  - id: ui
    title: UI
    condition: has_ui
    template: The UI of {{project_name}}.
  - id: mobile
    title: Mobile
    condition: The product ships a mobile app
  - id: log
    title: Change Log
    type: table
    columns: [Date, Change]
  - id: flow
    title: Flow
    type: mermaid
  - id: epics
    title: "Epic {{index}}: {{epic_title}}"
    repeatable: true
    sections:
      - id: stories
        title: Stories
        type: checklist
  - id: api
    title: API
    type: code
    language: yaml
"""


@pytest.fixture
def template(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "doc-tmpl.yaml"
    path.write_text(TEMPLATE)
    return parse_template(path)


def test_render_a_full_document(template) -> None:  # type: ignore[no-untyped-def]
    drafts = {
        "goals": "Sync offline\n- Resolve conflicts",
        "requirements": "1. Works offline\n2. Merges edits",
        "log": "| 2026-11-26 | first draft |",
        "flow": "```mermaid\nflowchart LR\n  A --> B\n```",
        "epics[1].stories": "Login\nSync",
        "epics[2].stories": "- [ ] Export",
        "api": "paths: {}",
    }
    text = render_document(
        template,
        variables={
            "project_name": "Wiki",
            "has_ui": True,
            "epics": [{"epic_title": "Core"}, {"epic_title": "Export"}],
        },
        drafts=drafts,
        decisions={"mobile": False},
    )
    assert text.startswith("# Wiki Plan\n")
    assert "## Goals\n\n- Sync offline\n- Resolve conflicts" in text
    assert "1. FR1: Works offline\n2. FR2: Merges edits" in text
    assert "## UI\n\nThe UI of Wiki." in text
    assert "## Mobile" not in text  # a prose condition decided "no" by its owner
    assert "| Date | Change |\n|---|---|\n| 2026-11-26 | first draft |" in text
    assert "```mermaid\nflowchart LR\n  A --> B\n```" in text
    assert "## Epic 1: Core" in text and "## Epic 2: Export" in text
    assert "### Stories\n\n- [ ] Login\n- [ ] Sync" in text and "- [ ] Export" in text
    assert "```yaml\npaths: {}\n```" in text


def test_false_conditions_drop_sections(template) -> None:  # type: ignore[no-untyped-def]
    text = render_document(template, variables={"project_name": "Wiki", "has_ui": False})
    assert "## UI" not in text and "## Mobile" in text  # undecided prose: included


def test_required_inputs_are_checked_first(template) -> None:  # type: ignore[no-untyped-def]
    assert missing_inputs(template, {"audience": "devs"}) == ["project_name"]
    with pytest.raises(ConfigError, match="needs values for: project_name"):
        render_document(template, variables={})
