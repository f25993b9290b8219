"""Our own bundled core: complete, valid, and exercising the whole format."""

from __future__ import annotations

from botarmy_nb.bmad.conditions import parse_condition
from botarmy_nb.bmad.loader import bundled_core_dir, load_bmad


def test_bundled_core_loads_with_everything_the_engine_needs() -> None:
    core = load_bmad(bundled_core_dir())
    assert {"analyst", "pm", "architect", "ux-expert", "po", "sm", "dev", "qa"} <= set(core.agents)
    for agent in core.agents.values():
        assert agent.name and agent.title and agent.persona.core_principles
        assert agent.persona.role in agent.system_message()
    assert any("*" in team.agents for team in core.teams.values())
    assert {"greenfield-fullstack", "greenfield-service", "brownfield-service"} <= set(
        core.workflows
    )
    assert any(step.routes for step in core.workflows["brownfield-service"].steps)
    assert len(core.templates) >= 6
    sections = [s for t in core.templates.values() for top in t.sections for s in top.walk()]
    types = {s.type for s in sections}
    assert {
        "paragraphs",
        "bullet-list",
        "numbered-list",
        "table",
        "code",
        "mermaid",
        "checklist",
    } <= types
    assert any(s.repeatable and s.sections for s in sections)
    conditions = [parse_condition(s.condition) for s in sections if s.condition]
    assert any(c.is_prose for c in conditions) and any(not c.is_prose for c in conditions)
    for workflow in core.workflows.values():
        for step in workflow.steps:  # every document a step creates has its template
            if step.creates and step.creates.endswith(".md"):
                assert core.template_for(step.creates) is not None, step.creates
