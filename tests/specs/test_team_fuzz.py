"""Fuzzed team files and agent libraries: each one loads, or fails naming file and place."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from yaml_strategies import mapping, markdown_around, names, values, yaml_text

from botarmy_nb.errors import SpecError
from botarmy_nb.specs.team import TeamSpec, load_team
from botarmy_nb.specs.yamlpos import relative_name_problem

AGENT_FIELDS = {
    "role": st.text(max_size=8),
    "description": st.text(max_size=8),
    "system_message": st.text(max_size=20),
    "model": st.sampled_from(["scripted", "openai:gpt-4o-mini", "nope"]),
    "handoffs": st.lists(names, max_size=2),
    "ends_conversation": st.booleans(),
}
agent = mapping({"name": names}, AGENT_FIELDS)
team = mapping(
    {"name": names},
    {
        "type": st.sampled_from(["round_robin", "selector", "swarm", "graph", "mesh"]),
        "description": st.text(max_size=10),
        "model": st.sampled_from(["scripted", "x"]),
        "agents": st.lists(st.one_of(names, agent), max_size=4),
        "termination": mapping(
            {},
            {
                "text": st.one_of(st.none(), st.text(max_size=5)),
                "max_messages": st.integers(-1, 50),
                "timeout_s": st.floats(-1, 100),
            },
        ),
        "max_turns": st.integers(-1, 10),
        "selector_prompt": st.text(max_size=10),
        "graph": mapping(
            {"edges": st.lists(mapping({"from": names, "to": names}, {"condition": names}))}
        ),
        "artifacts": st.lists(
            mapping({"name": st.one_of(names, st.text(max_size=20))}, {"agent": names}),
            max_size=3,
        ),
    },
)
library = st.dictionaries(names, st.one_of(mapping({}, AGENT_FIELDS), values()), max_size=3)


def _check(team_bytes: bytes, library_bytes: bytes | None) -> TeamSpec | None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "team.yaml"
        path.write_bytes(team_bytes)
        files = {str(path)}
        if library_bytes is not None:
            (Path(folder) / "agents.yaml").write_bytes(library_bytes)
            files.add(str(Path(folder) / "agents.yaml"))
        try:
            spec = load_team(path)
        except SpecError as exc:
            assert exc.file in files, exc
            assert exc.line is not None or exc.field is not None, exc
            return None
    for artifact in spec.artifacts:  # what is accepted is safe to write
        assert relative_name_problem(artifact.name) is None
    assert spec.agents and len(set(spec.agent_names)) == len(spec.agents)
    return spec


@given(yaml_text(team), st.one_of(st.none(), yaml_text(library)))
def test_fuzzed_team_files_load_or_name_the_problem(
    team_bytes: bytes, library_bytes: bytes | None
) -> None:
    _check(team_bytes, library_bytes)


@given(yaml_text(values(["name", "agents", "type", "graph", "artifacts"], leaves=20)))
def test_any_yaml_as_a_team_file(team_bytes: bytes) -> None:
    _check(team_bytes, None)


@given(st.data())
def test_teams_embedded_oddly_still_fail_cleanly(data: Any) -> None:
    # the same loader reads markdown-wrapped YAML for BMAD agents; a team file is not one
    _check(markdown_around(data.draw, data.draw(yaml_text(team))), None)
