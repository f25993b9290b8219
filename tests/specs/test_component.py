"""AutoGen component JSON teams: dumped by AutoGen, run by us, exported, loaded by AutoGen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.conditions import MaxMessageTermination, TextMentionTermination
from autogen_agentchat.teams import (
    DiGraphBuilder,
    GraphFlow,
    RoundRobinGroupChat,
    SelectorGroupChat,
    Swarm,
)
from autogen_core import ComponentLoader
from autogen_core.tools import FunctionTool
from autogen_ext.models.openai import OpenAIChatCompletionClient

import botarmy_nb as ba
from botarmy_nb.errors import SpecError
from botarmy_nb.specs.catalog import find_team
from botarmy_nb.specs.component import export_team

SECRET = "sk-test-never-stored"


def word_count(text: str) -> int:
    """A tool whose source AutoGen would exec() when loading the component."""
    return len(text.split())


def _client() -> OpenAIChatCompletionClient:
    return OpenAIChatCompletionClient(model="gpt-4o-mini", api_key=SECRET)


def _agents(tools: bool = False, handoffs: bool = False) -> list[AssistantAgent]:
    return [
        AssistantAgent(
            "writer",
            model_client=_client(),
            system_message="Write the draft.",
            tools=[FunctionTool(word_count, description="count words")] if tools else None,
            handoffs=["critic"] if handoffs else None,
        ),
        AssistantAgent("critic", model_client=_client(), system_message="Critique, then approve."),
    ]


def _team(kind: str, tools: bool = False):  # type: ignore[no-untyped-def]
    stop = TextMentionTermination("TERMINATE") | MaxMessageTermination(8)
    if kind == "round_robin":
        return RoundRobinGroupChat(_agents(tools), termination_condition=stop)
    if kind == "selector":
        return SelectorGroupChat(_agents(), model_client=_client(), termination_condition=stop)
    if kind == "swarm":
        return Swarm(_agents(handoffs=True), termination_condition=stop)
    writer, critic = _agents()
    graph = DiGraphBuilder().add_node(writer).add_node(critic).add_edge(writer, critic).build()
    return GraphFlow([writer, critic], graph=graph, termination_condition=stop)


def _dump(tmp_path: Path, kind: str, tools: bool = False) -> Path:
    path = tmp_path / f"{kind}-team.json"
    path.write_text(_team(kind, tools).dump_component().model_dump_json())
    return path


@pytest.mark.parametrize("kind", ["round_robin", "selector", "swarm", "graph"])
def test_a_dumped_team_becomes_our_spec_without_its_keys(tmp_path: Path, kind: str) -> None:
    path = _dump(tmp_path, kind)
    assert "**********" in path.read_text()  # what dump_component writes for a key
    spec = find_team(str(path))
    assert spec.type == kind and spec.agent_names == ["writer", "critic"]
    assert spec.name == f"{kind}-team"
    assert [a.model for a in spec.agents] == ["openai:gpt-4o-mini"] * 2
    assert spec.agents[0].system_message == "Write the draft."
    stored = spec.model_dump_json()
    assert SECRET not in stored and "*****" not in stored
    if kind == "swarm":
        assert spec.agents[0].handoffs == ["critic"]
    if kind == "graph":
        assert spec.graph is not None
        assert [(e.source, e.target) for e in spec.graph.edges] == [("writer", "critic")]
    else:
        assert spec.termination.text == "TERMINATE" and spec.termination.max_messages == 8
    # --model serves every agent instead of the file's clients
    assert all(a.model is None for a in find_team(str(path), model="scripted").agents)


def test_a_function_tool_is_refused_unless_the_user_trusts_the_file(tmp_path: Path) -> None:
    path = _dump(tmp_path, "round_robin", tools=True)
    with pytest.raises(SpecError, match=r"FunctionTool \('word_count'\).*--trust-code"):
        find_team(str(path))
    with pytest.raises(SpecError, match="FunctionTool"):
        ba.run("x", team=str(path))
    trusted = find_team(str(path), trust_code=True)
    assert trusted.trust_code and trusted.agents[0].tools[0]["config"]["name"] == "word_count"


def test_what_we_cannot_run_is_named(tmp_path: Path) -> None:
    path = tmp_path / "odd.json"
    data = json.loads(_team("round_robin").dump_component().model_dump_json())
    data["config"]["participants"][0]["provider"] = "autogen_agentchat.agents.UserProxyAgent"
    path.write_text(json.dumps(data))
    with pytest.raises(SpecError, match=r"UserProxyAgent.*not supported") as info:
        find_team(str(path))
    assert info.value.field == "config.participants.0"
    path.write_text("{not json")
    with pytest.raises(SpecError, match="not valid JSON"):
        find_team(str(path))


@pytest.mark.parametrize("kind", ["round_robin", "selector", "swarm", "graph"])
def test_round_trip_autogen_to_us_to_autogen(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _dump(tmp_path, kind)
    models = {"writer": "scripted", "critic": "scripted"}
    if kind == "selector":
        models["selector"] = "scripted"
    run = ba.run("A haiku about tests", team=str(path), agent_models=models).wait(60)
    assert run.status == "completed", run.record.error
    speakers = set(run.messages["agent"])
    assert {"writer", "critic"} <= speakers
    out = export_team(str(path), tmp_path / "exported" / f"{kind}.json")
    text = out.read_text()
    assert SECRET not in text and "*****" not in text and "api_key" not in text
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    team = ComponentLoader.load_component(json.loads(text))
    expected = {
        "round_robin": RoundRobinGroupChat,
        "selector": SelectorGroupChat,
        "swarm": Swarm,
        "graph": GraphFlow,
    }[kind]
    assert isinstance(team, expected)
    again = find_team(str(out))  # and back into ours, unchanged in what matters
    assert again.type == kind and again.agent_names == ["writer", "critic"]


def test_a_yaml_team_exports_for_autogen_studio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = export_team("writers-room", tmp_path / "writers-room.json", model="openai:gpt-4o-mini")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    team = ComponentLoader.load_component(json.loads(out.read_text()))
    assert [p.name for p in team._participants] == find_team("writers-room").agent_names  # type: ignore[attr-defined]
