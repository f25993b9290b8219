"""Team YAML: bundled teams load; every kind of bad input names file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from botarmy_nb.errors import NotFoundError, SpecError
from botarmy_nb.specs.catalog import find_team, list_teams
from botarmy_nb.specs.team import load_team


def _write(tmp_path: Path, text: str, name: str = "team.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_bundled_teams_cover_every_team_type() -> None:
    teams = {t.name: t for t in list_teams()}
    assert {t.type for t in teams.values()} == {"round_robin", "selector", "swarm", "graph"}
    assert find_team(None).name == "writers-room"


def test_unknown_team_lists_known_ones() -> None:
    with pytest.raises(
        NotFoundError,
        match=r"unknown team 'writers-rom' \(did you mean "
        r"'writers-room'\?\); known: .*planning-room",
    ):
        find_team("writers-rom")


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nagents:\n  - name: a\n    role: [unclosed\n")
    with pytest.raises(SpecError) as info:
        load_team(path)
    assert str(path) in str(info.value) and info.value.line in (4, 5)
    assert "malformed YAML" in str(info.value)


def test_unknown_field_names_line_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nagents: [writer]\ntermination:\n  max_mesages: 3\n")
    with pytest.raises(SpecError) as info:
        load_team(path)
    assert info.value.line == 4 and info.value.field == "termination.max_mesages"
    assert "unknown field 'max_mesages'" in str(info.value)


def test_unknown_agent_in_team_suggests_the_near_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nagents:\n  - writer\n  - critc\n")
    with pytest.raises(SpecError) as info:
        load_team(path)
    assert info.value.line == 4
    assert "unknown agent 'critc' (did you mean 'critic'?)" in str(info.value)


def test_unknown_handoff_target(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        (
            "name: x\ntype: swarm\nagents:\n  - name: a\n    handoffs: [b]\n"
            "  - name: bee\n    handoffs: [a]\n"
        ),
    )
    with pytest.raises(SpecError) as info:
        load_team(path)
    assert info.value.line == 5 and info.value.field == "agents.0.handoffs.0"


def test_graph_without_leaf_is_rejected_before_any_run(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        (
            "name: x\ntype: graph\nagents: [writer, critic]\ngraph:\n  edges:\n"
            "    - {from: writer, to: critic}\n    - {from: critic, to: writer}\n"
        ),
    )
    with pytest.raises(SpecError, match="invalid graph"):
        load_team(path)


def test_bad_value_type_names_the_field(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nagents: [writer]\nmax_turns: lots\n")
    with pytest.raises(SpecError) as info:
        load_team(path)
    assert info.value.line == 3 and info.value.field == "max_turns"


def test_team_by_path_with_local_agent_library(tmp_path: Path) -> None:
    _write(tmp_path, "poet:\n  role: writer\n  system_message: Write verse.\n", "agents.yaml")
    path = _write(tmp_path, "name: verse\nagents: [poet, critic]\n")
    team = find_team(str(path))
    assert team.agent_names == ["poet", "critic"]
    assert team.agents[0].system_message == "Write verse."


@pytest.mark.parametrize(
    "agents, message",
    [
        ("5", "agents must be a list of agent names or agent mappings, not int"),
        ("writer", "not text (write agents: [writer])"),
        ("{writer: 1}", "not a mapping"),
    ],
)
def test_agents_that_are_not_a_list(tmp_path: Path, agents: str, message: str) -> None:
    path = _write(tmp_path, f"name: x\nagents: {agents}\n")
    with pytest.raises(SpecError) as info:
        load_team(path)
    assert message in str(info.value) and "unknown agent 'w'" not in str(info.value)
    assert info.value.line == 2 and info.value.field == "agents"


def test_an_agent_library_entry_that_is_not_a_mapping(tmp_path: Path) -> None:
    library = _write(tmp_path, "poet: [verse]\n", "agents.yaml")
    path = _write(tmp_path, "name: x\nagents: [poet]\n")
    with pytest.raises(SpecError) as info:
        load_team(path)
    assert info.value.file == str(library) and info.value.field == "poet"
    assert "agent 'poet' must be a mapping of agent fields, not a list" in str(info.value)


@pytest.mark.parametrize(
    "name, message",
    [
        ("x" * 300, "is 300 characters long (at most 200)"),
        ("../up.md", "'..'"),
        ("/etc/passwd", "relative path"),
        ("docs\\\\..\\\\up.md", "'..'"),
        ("sub/dir.md", "plain file name"),
    ],
)
def test_unsafe_artifact_names_are_refused_at_load(tmp_path: Path, name: str, message: str) -> None:
    path = _write(tmp_path, f'name: x\nagents: [writer]\nartifacts:\n  - name: "{name}"\n')
    with pytest.raises(SpecError) as info:
        load_team(path)
    assert message in str(info.value)
    assert info.value.line == 4 and info.value.field == "artifacts.0.name"


def test_a_team_bomb_is_refused_by_the_error_not_by_time(tmp_path: Path) -> None:
    from yaml_strategies import bomb

    path = _write(tmp_path, "name: x\nagents: [writer]\n" + bomb(9, 9))
    with pytest.raises(SpecError, match="aliases would add more than"):
        load_team(path)


@pytest.mark.parametrize("ref", ["~nobody-at-all/t.yaml", "x" * 5_000 + ".yaml", "a\x00.yaml"])
def test_team_paths_no_file_can_have(ref: str) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        find_team(ref)
