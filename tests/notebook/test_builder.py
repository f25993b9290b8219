"""The team builder: what it saves loads back unchanged, and runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from comm_recorder import choose, click, record_comms, type_into

from botarmy_nb.errors import ConfigError, SpecError
from botarmy_nb.notebook.builder import TeamDraft, agent_choices, builder, parse_edges
from botarmy_nb.specs.team import load_team


def _said(b) -> str:  # type: ignore[no-untyped-def]
    import html

    return html.unescape(b.message.value)


@pytest.fixture
def comms(monkeypatch):  # type: ignore[no-untyped-def]
    return record_comms(monkeypatch)


def test_agents_come_from_the_library_and_the_bmad_core(botarmy_home: Path) -> None:
    choices = agent_choices()
    assert {"library:writer", "library:critic", "bmad:pm", "bmad:ux-expert"} <= set(choices)
    assert choices["bmad:ux-expert"].name == "ux_expert"  # agent names are identifiers
    assert "You are" in choices["bmad:pm"].system_message


@pytest.mark.parametrize("team_type", ["round_robin", "selector", "swarm", "graph"])
def test_saved_team_loads_back_unchanged(botarmy_home: Path, comms, team_type: str) -> None:  # type: ignore[no-untyped-def]
    b = builder()
    for key in ("library:writer", "bmad:ux-expert", "library:critic"):
        choose(b.available, key)
        click(b.add_button)
    choose(b.type, team_type)
    type_into(b.name, f"my-{team_type}")
    type_into(b.description, "Built in the notebook: it says 'hi' — ✔")
    type_into(b.stop_text, "APPROVE")
    type_into(b.max_messages, 9)
    type_into(b.timeout, 120.0)
    assert "<pre>name: my-" in b.preview.value
    assert b.message.value == "", b.message.value
    click(b.save_button)
    saved = botarmy_home / "teams" / f"my-{team_type}.yaml"
    assert saved.is_file(), b.message.value
    loaded = load_team(saved)
    assert loaded.model_dump() == b.draft.spec().model_dump()
    assert loaded.type == team_type and loaded.agent_names == ["writer", "ux_expert", "critic"]
    assert loaded.termination.text == "APPROVE" and loaded.termination.max_messages == 9
    assert loaded.termination.timeout_s == 120.0
    assert loaded.agents[1].system_message == agent_choices()["bmad:ux-expert"].system_message
    if team_type == "swarm":
        assert [a.handoffs for a in loaded.agents] == [["ux_expert"], ["critic"], []]
    if team_type == "graph":
        assert [(e.source, e.target) for e in loaded.graph.edges] == [
            ("writer", "ux_expert"),
            ("ux_expert", "critic"),
        ]


def test_saved_team_runs_by_name(botarmy_home: Path, comms) -> None:  # type: ignore[no-untyped-def]
    import botarmy_nb as ba

    b = builder()
    for key in ("library:writer", "library:critic"):
        choose(b.available, key)
        click(b.add_button)
    type_into(b.name, "pair")
    type_into(b.stop_text, "APPROVE")
    click(b.save_button)
    run = ba.run("Write a haiku", team="pair").wait(60)
    assert run.status == "completed" and run.record.team == "pair"


def test_remove_and_problems_are_shown_not_raised(botarmy_home: Path, comms) -> None:  # type: ignore[no-untyped-def]
    b = builder()
    assert "add at least one agent" in _said(b)
    choose(b.available, "library:writer")
    click(b.add_button)
    click(b.add_button)  # the same agent twice
    assert "already has an agent called 'writer'" in _said(b)
    choose(b.type, "selector")
    assert "at least two agents" in _said(b)  # the team file's own rule
    click(b.save_button)
    assert not (botarmy_home / "teams").exists()
    choose(b.available, "library:critic")
    click(b.add_button)
    choose(b.type, "graph")
    type_into(b.links, "writer -> nobody")
    assert "unknown agent 'nobody'" in _said(b)
    type_into(b.links, "writer => critic")
    assert "FROM -> TO" in _said(b)
    type_into(b.links, "writer -> critic : APPROVE")
    assert b.message.value == ""
    choose(b.members, "critic")
    click(b.remove_button)
    assert [a.name for a in b.draft.agents] == ["writer"]
    assert "critic" not in b.links.value


def test_save_refuses_to_overwrite_and_bad_names(botarmy_home: Path) -> None:
    from botarmy_nb.specs.team import AgentSpec

    draft = TeamDraft(name="t", agents=[AgentSpec(name="a", system_message="x\n\ny\n")])
    path = draft.save()
    assert load_team(path).agents[0].system_message == "x\n\ny\n"
    with pytest.raises(ConfigError, match="exists"):
        draft.save()
    draft.save(overwrite=True)
    draft.name = "../escape"
    with pytest.raises(ConfigError, match="team name"):
        draft.save()
    draft.name, draft.type = "t2", "swarm"
    with pytest.raises(SpecError, match="handoffs"):
        draft.save()
    assert parse_edges("a -> b\n\nb -> c : DONE") == [("a", "b", None), ("b", "c", "DONE")]
