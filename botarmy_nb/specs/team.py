"""Team specs: the YAML that describes an AutoGen team, validated with file/line errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from botarmy_nb.errors import did_you_mean
from botarmy_nb.specs.yamlpos import (
    LocatedYaml,
    load_yaml,
    raise_validation_error,
    relative_name_problem,
)

__all__ = [
    "AgentSpec",
    "ArtifactSpec",
    "EdgeSpec",
    "GraphSpec",
    "TeamSpec",
    "TerminationSpec",
    "load_agent_library",
    "load_team",
    "parse_team",
]

TeamType = Literal["round_robin", "selector", "swarm", "graph"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class AgentSpec(_Strict):
    name: str
    role: str = ""
    description: str = ""
    system_message: str = ""
    model: str | None = None
    handoffs: list[str] = Field(default_factory=list)
    ends_conversation: bool = False
    # AutoGen tool components from a trusted component JSON team (see specs/component.py)
    tools: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not value.isidentifier():
            raise ValueError(f"agent name {value!r} must be a Python identifier (letters, _)")
        return value


class TerminationSpec(_Strict):
    text: str | None = "TERMINATE"
    max_messages: int | None = Field(default=30, ge=1)
    timeout_s: float | None = Field(default=None, gt=0)


class EdgeSpec(_Strict):
    source: str = Field(alias="from")
    target: str = Field(alias="to")
    condition: str | None = None
    activation_group: str | None = None
    activation_condition: Literal["all", "any"] | None = None


class GraphSpec(_Strict):
    edges: list[EdgeSpec]


class ArtifactSpec(_Strict):
    name: str
    agent: str | None = None  # None: the run's final message
    format: str = "markdown"

    @field_validator("name")
    @classmethod
    def _plain_file_name(cls, value: str) -> str:
        # stored in a String(300) column and written under the run's folder
        problem = relative_name_problem(value)
        if problem or not re.fullmatch(r"[\w][\w.\- ]*", value) or ".." in value:
            raise ValueError(
                f"artifact name {value[:60]!r} must be a plain file name (no folders)"
                + (f"; it {problem}" if problem else "")
            )
        return value


class TeamSpec(_Strict):
    name: str
    description: str = ""
    type: TeamType = "round_robin"
    model: str | None = None
    agents: list[AgentSpec] = Field(min_length=1)
    termination: TerminationSpec = Field(default_factory=TerminationSpec)
    max_turns: int | None = Field(default=None, ge=1)
    selector_prompt: str | None = None
    graph: GraphSpec | None = None
    artifacts: list[ArtifactSpec] = Field(default_factory=lambda: [ArtifactSpec(name="result.md")])
    queue: str | None = None  # the Celery queue this team's runs go to (None: the default)
    # set only when the user trusted a component file's tool code (--trust-code): the
    # engine loads the agents' tools (AutoGen exec()s a FunctionTool's source) only then
    trust_code: bool = False
    source: str | None = Field(default=None, exclude=True)

    @property
    def agent_names(self) -> list[str]:
        return [a.name for a in self.agents]

    def closing_agent(self) -> str:
        """The agent that ends the conversation (flagged, else the last one)."""
        flagged = [a.name for a in self.agents if a.ends_conversation]
        return flagged[0] if flagged else self.agents[-1].name


def load_agent_library(path: Path) -> dict[str, tuple[dict[str, Any], LocatedYaml]]:
    """An ``agents.yaml`` mapping of agent name → agent fields."""
    if not path.is_file():
        return {}
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise doc.error((), "an agent library must map agent names to agent fields")
    library: dict[str, tuple[dict[str, Any], LocatedYaml]] = {}
    for key, fields in doc.data.items():
        if fields is not None and not isinstance(fields, dict):
            raise doc.error(
                (key,), f"agent '{key}' must be a mapping of agent fields, not {_kind(fields)}"
            )
        library[str(key)] = ({"name": str(key), **(fields or {})}, doc)
    return library


def _kind(value: Any) -> str:
    return {list: "a list", dict: "a mapping", str: "text"}.get(type(value), type(value).__name__)


def parse_team(doc: LocatedYaml, *, libraries: list[Path] = ()) -> TeamSpec:  # type: ignore[assignment]
    """Validate a loaded team document; string agents are looked up in agent libraries."""
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error((), "a team file must be a mapping with name, type and agents")
    data = dict(data)
    library: dict[str, tuple[dict[str, Any], LocatedYaml]] = {}
    for lib in reversed(list(libraries)):
        library.update(load_agent_library(lib))
    entries = data.get("agents") or []
    if not isinstance(entries, list):
        hint = f" (write agents: [{entries}])" if isinstance(entries, str) else ""
        raise doc.error(
            ("agents",),
            f"agents must be a list of agent names or agent mappings, not {_kind(entries)}" + hint,
        )
    agents: list[Any] = []
    for i, entry in enumerate(entries):
        if isinstance(entry, str):
            if entry not in library:
                raise doc.error(
                    ("agents", i), f"unknown agent '{entry}'" + did_you_mean(entry, library)
                )
            fields, lib_doc = library[entry]
            try:
                AgentSpec.model_validate(fields)
            except ValidationError as exc:
                raise_validation_error(lib_doc, exc, base=(entry,))
            agents.append(fields)
        else:
            agents.append(entry)
    data["agents"] = agents
    try:
        team = TeamSpec.model_validate(data)
    except ValidationError as exc:
        raise_validation_error(doc, exc)
    team.source = doc.file
    _check_references(team, doc)
    return team


def _check_references(team: TeamSpec, doc: LocatedYaml) -> None:
    names = team.agent_names
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise doc.error(("agents", i), f"agent '{name}' is listed twice")
        seen.add(name)

    def known(name: str, path: tuple[str | int, ...]) -> None:
        if name not in seen:
            raise doc.error(path, f"unknown agent '{name}'" + did_you_mean(name, names))

    for i, agent in enumerate(team.agents):
        for j, target in enumerate(agent.handoffs):
            known(target, ("agents", i, "handoffs", j))
    for i, artifact in enumerate(team.artifacts):
        if artifact.agent:
            known(artifact.agent, ("artifacts", i, "agent"))
    if team.type == "graph":
        if team.graph is None:
            raise doc.error(("type",), "a graph team needs a 'graph' with 'edges'")
        for i, edge in enumerate(team.graph.edges):
            known(edge.source, ("graph", "edges", i, "from"))
            known(edge.target, ("graph", "edges", i, "to"))
        _check_graph(team, doc)
    elif team.graph is not None:
        raise doc.error(("graph",), f"'graph' only applies to type: graph, not {team.type}")
    if team.type == "swarm" and not any(a.handoffs for a in team.agents):
        raise doc.error(("agents",), "a swarm team needs handoffs between its agents")
    if team.type == "selector" and len(team.agents) < 2:
        raise doc.error(("agents",), "a selector team needs at least two agents")


def _check_graph(team: TeamSpec, doc: LocatedYaml) -> None:
    """Let AutoGen's own validator judge the graph now, before any run starts."""
    from autogen_agentchat.teams import DiGraph, DiGraphEdge, DiGraphNode

    assert team.graph is not None
    nodes = {name: DiGraphNode(name=name, edges=[]) for name in team.agent_names}
    for edge in team.graph.edges:
        nodes[edge.source].edges.append(
            DiGraphEdge(
                target=edge.target,
                condition=edge.condition,
                activation_group=edge.activation_group or edge.target,
                activation_condition=edge.activation_condition or "all",
            )
        )
    try:
        DiGraph(nodes=nodes).graph_validate()
    except ValueError as exc:
        raise doc.error(("graph",), f"invalid graph: {exc}") from None


def _stamp(path: Path) -> tuple[str, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (str(path), stat.st_mtime_ns, stat.st_size)


_TEAM_CACHE: dict[tuple[object, ...], TeamSpec] = {}


def load_team(path: Path) -> TeamSpec:
    """Load and validate a team YAML file (agent names resolved beside it, then bundled).

    Parsed teams are cached by the files' modification stamps, and each call returns a
    copy, so editing a YAML file is picked up and callers may change what they get.
    """
    from botarmy_nb.specs.catalog import bundled_teams_dir

    libraries = [path.parent / "agents.yaml", bundled_teams_dir() / "agents.yaml"]
    key = (_stamp(path), *(_stamp(lib) for lib in libraries))
    cached = _TEAM_CACHE.get(key)
    if cached is None:
        cached = parse_team(load_yaml(path), libraries=libraries)
        _TEAM_CACHE[key] = cached
    return cached.model_copy(deep=True)
