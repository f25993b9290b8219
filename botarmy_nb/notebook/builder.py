"""The team builder: pick agents from the agent library and the loaded BMAD-compatible
agents, choose the team type and termination, preview the YAML, save a team file that
``--team`` finds and that loads back exactly as built."""

from __future__ import annotations

import html
import itertools
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from botarmy_nb.errors import ConfigError
from botarmy_nb.notebook.forms import saved_line

if TYPE_CHECKING:
    from botarmy_nb.specs.team import AgentSpec, TeamSpec

__all__ = ["TEAM_TYPES", "TeamBuilder", "TeamDraft", "agent_choices", "builder"]

TEAM_TYPES = ("round_robin", "selector", "swarm", "graph")
_TEAM_NAME = re.compile(r"^[A-Za-z0-9][\w.-]{0,79}$")
_EDGE = re.compile(r"^\s*([A-Za-z_]\w*)\s*->\s*([A-Za-z_]\w*)\s*(?::\s*(.+?))?\s*$")
_ERROR = "color:#b00020"


def builder() -> TeamBuilder:
    """The team builder widget (``%botarmy builder``)."""
    return TeamBuilder()


# -- where agents come from ------------------------------------------------------------------


def agent_choices() -> dict[str, AgentSpec]:
    """Every agent the builder offers, keyed ``library:NAME`` or ``bmad:ID``: the agent
    libraries (``~/.botarmy/teams/agents.yaml`` first, then the bundled one) and the
    agents of the BMAD-compatible core (``ux-expert`` becomes ``ux_expert``)."""
    from botarmy_nb.specs.catalog import team_dirs
    from botarmy_nb.specs.team import AgentSpec, load_agent_library

    found: dict[str, AgentSpec] = {}
    for folder in team_dirs():
        for name, (fields, _doc) in load_agent_library(folder / "agents.yaml").items():
            found.setdefault(f"library:{name}", AgentSpec.model_validate(fields))
    from botarmy_nb.bmad.loader import load_bmad

    for key, agent in sorted(load_bmad().agents.items()):
        found[f"bmad:{key}"] = AgentSpec(
            name=re.sub(r"\W", "_", key),
            role=agent.title or agent.persona.role,
            description=(agent.when_to_use or agent.persona.role)[:300],
            system_message=agent.system_message(),
        )
    return found


# -- the team being built, without widgets ---------------------------------------------------


class _BlockDumper(yaml.SafeDumper):
    """Multi-line text as ``|`` blocks, so a saved team reads like a hand-written one."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _text)


@dataclass
class TeamDraft:
    """A team as the builder holds it; :meth:`spec` validates it as a team file would be."""

    name: str = "my-team"
    description: str = ""
    type: str = "round_robin"
    agents: list[AgentSpec] = field(default_factory=list)
    stop_text: str | None = "TERMINATE"
    max_messages: int | None = 30
    timeout_s: float | None = None
    max_turns: int | None = None
    selector_prompt: str | None = None
    handoffs: dict[str, list[str]] = field(default_factory=dict)  # swarm
    edges: list[tuple[str, str, str | None]] = field(default_factory=list)  # graph

    def add(self, agent: AgentSpec) -> None:
        if any(a.name == agent.name for a in self.agents):
            raise ConfigError(f"the team already has an agent called '{agent.name}'")
        self.agents.append(agent.model_copy(deep=True))

    def remove(self, name: str) -> None:
        self.agents = [a for a in self.agents if a.name != name]
        self.handoffs.pop(name, None)
        self.edges = [e for e in self.edges if name not in e[:2]]

    def default_links(self) -> None:
        """Handoffs (swarm) or edges (graph) along the agents' order, when none are set."""
        names = [a.name for a in self.agents]
        if self.type == "swarm" and not any(self.handoffs.values()):
            self.handoffs = {a: [b] for a, b in itertools.pairwise(names)}
        if self.type == "graph" and not self.edges:
            self.edges = [(a, b, None) for a, b in itertools.pairwise(names)]

    def to_data(self) -> dict[str, Any]:
        """The team file's content (agents written out in full: the file stands alone)."""
        agents = []
        for agent in self.agents:
            data = agent.model_dump(exclude_defaults=True, by_alias=True)
            data["name"] = agent.name
            if self.type == "swarm" and self.handoffs.get(agent.name):
                data["handoffs"] = list(self.handoffs[agent.name])
            else:
                data.pop("handoffs", None)
            agents.append(data)
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        out["type"] = self.type
        out["agents"] = agents
        out["termination"] = {
            "text": self.stop_text or None,
            "max_messages": self.max_messages or None,
            **({"timeout_s": self.timeout_s} if self.timeout_s else {}),
        }
        if self.max_turns:
            out["max_turns"] = self.max_turns
        if self.type == "selector" and self.selector_prompt:
            out["selector_prompt"] = self.selector_prompt
        if self.type == "graph":
            out["graph"] = {
                "edges": [
                    {"from": a, "to": b, **({"condition": c} if c else {})}
                    for a, b, c in self.edges
                ]
            }
        return out

    def to_yaml(self) -> str:
        return yaml.dump(
            self.to_data(), Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100
        )

    def spec(self) -> TeamSpec:
        """The validated team (SpecError with line and field otherwise)."""
        from botarmy_nb.specs.catalog import bundled_teams_dir
        from botarmy_nb.specs.team import parse_team
        from botarmy_nb.specs.yamlpos import load_yaml

        if not _TEAM_NAME.match(self.name):
            raise ConfigError(
                f"team name {self.name[:40]!r}: use letters, digits, '-', '_' or '.' "
                "(it is also the file name)"
            )
        doc = load_yaml(self.to_yaml(), name=f"{self.name}.yaml")
        return parse_team(doc, libraries=[bundled_teams_dir() / "agents.yaml"])

    def save(self, path: str | Path | None = None, *, overwrite: bool = False) -> Path:
        """Write the team file (default: ``~/.botarmy/teams/NAME.yaml``, where ``--team
        NAME`` finds it) after validating it; refuses to replace a file unless asked."""
        from botarmy_nb.settings import get_settings
        from botarmy_nb.specs.team import load_team

        self.spec()
        target = Path(path).expanduser() if path else get_settings().home / "teams"
        if target.suffix not in (".yaml", ".yml"):
            target = target / f"{self.name}.yaml"
        if target.exists() and not overwrite:
            raise ConfigError(f"{target} exists; tick 'overwrite' (overwrite=True) to replace it")
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".team-", suffix=".yaml", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(self.to_yaml())
            load_team(Path(temp))  # as it will be loaded: beside its folder's agent library
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return target


def parse_edges(text: str) -> list[tuple[str, str, str | None]]:
    """``analyst -> dev`` lines, with an optional ``: CONDITION`` (``qa -> dev : REVISE``)."""
    edges = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _EDGE.match(line)
        if not match:
            raise ConfigError(f"edge line {number}: write FROM -> TO or FROM -> TO : CONDITION")
        edges.append((match[1], match[2], match[3]))
    return edges


def parse_handoffs(text: str) -> dict[str, list[str]]:
    """``writer: critic, editor`` lines: who each agent may hand off to."""
    out: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        source, sep, targets = line.partition(":")
        if not sep or not source.strip():
            raise ConfigError(f"handoff line {number}: write AGENT: TARGET, TARGET")
        out[source.strip()] = [t.strip() for t in targets.split(",") if t.strip()]
    return out


# -- the widget ------------------------------------------------------------------------------


class TeamBuilder:
    """The builder's widgets over a :class:`TeamDraft`; ``.widget`` is displayed."""

    def __init__(self) -> None:
        import ipywidgets as widgets

        self.draft = TeamDraft()
        self.choices = agent_choices()
        labels = [
            (f"{key.split(':')[0]}: {spec.name} — {spec.role or spec.description[:40]}", key)
            for key, spec in self.choices.items()
        ]
        self.available = widgets.Dropdown(options=labels, description="agent")
        self.add_button = widgets.Button(description="Add", icon="plus")
        self.members = widgets.Select(options=[], description="team", rows=6)
        self.remove_button = widgets.Button(description="Remove", icon="minus")
        self.name = widgets.Text(value=self.draft.name, description="name")
        self.description = widgets.Text(description="description", layout={"width": "60%"})
        self.type = widgets.Dropdown(options=list(TEAM_TYPES), description="type")
        self.stop_text = widgets.Text(value="TERMINATE", description="stop word")
        self.max_messages = widgets.BoundedIntText(
            value=30,
            min=0,
            max=10_000,
            description="max messages",
            style={"description_width": "initial"},
        )
        self.timeout = widgets.BoundedFloatText(
            value=0, min=0, max=86_400, description="timeout s", tooltip="0: none"
        )
        self.links = widgets.Textarea(
            description="links", layout={"width": "60%", "display": "none"}
        )
        self.selector_prompt = widgets.Text(
            description="selector prompt", layout={"width": "60%", "display": "none"}
        )
        # a BMAD agent's instructions run to pages: the preview scrolls, the form stays put
        self.preview = widgets.HTML(
            "", layout={"max_height": "32em", "overflow": "auto", "border": "1px solid #ddd"}
        )
        self.path = widgets.Text(
            description="save to", placeholder="(default: ~/.botarmy/teams/NAME.yaml)"
        )
        self.overwrite = widgets.Checkbox(description="overwrite", value=False)
        self.save_button = widgets.Button(description="Save", button_style="success", icon="save")
        self.message = widgets.HTML("")
        self.add_button.on_click(lambda _: self.add(self.available.value))
        self.remove_button.on_click(lambda _: self.remove(self.members.value))
        self.save_button.on_click(lambda _: self.save())
        for control in (
            self.name,
            self.description,
            self.type,
            self.stop_text,
            self.max_messages,
            self.timeout,
            self.links,
            self.selector_prompt,
        ):
            control.observe(lambda _: self.refresh(), names="value")
        self.widget = widgets.VBox(
            [
                widgets.HTML("<b>botarmy team builder</b>"),
                widgets.HBox([self.name, self.description]),
                widgets.HBox([self.available, self.add_button]),
                widgets.HBox([self.members, self.remove_button]),
                widgets.HBox([self.type, self.selector_prompt]),
                self.links,
                widgets.HBox([self.stop_text, self.max_messages, self.timeout]),
                widgets.HBox([self.path, self.overwrite, self.save_button]),
                self.message,
                self.preview,
            ]
        )
        self.refresh()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        data = dict(self.widget._repr_mimebundle_(**kwargs) or {})  # + a saved-notebook line
        data["text/plain"] = "botarmy team builder (it needs a running kernel)"
        data["text/html"] = saved_line("team builder")
        return data

    def add(self, key: str) -> None:
        try:
            self.draft.add(self.choices[key])
        except ConfigError as exc:
            self._say(str(exc))
            return
        self._links_text(reset=True)
        self.refresh()

    def remove(self, name: str | None) -> None:
        if name:
            self.draft.remove(name)
            self._links_text(reset=True)
            self.refresh()

    def _links_text(self, *, reset: bool = False) -> None:
        """Fill the links box with the default chain for swarm/graph teams."""
        if reset:
            self.draft.handoffs, self.draft.edges = {}, []
        self.draft.type = self.type.value
        self.draft.default_links()
        if self.draft.type == "swarm":
            text = "\n".join(f"{a}: {', '.join(t)}" for a, t in self.draft.handoffs.items())
        elif self.draft.type == "graph":
            text = "\n".join(
                f"{a} -> {b}" + (f" : {c}" if c else "") for a, b, c in self.draft.edges
            )
        else:
            text = ""
        if self.links.value != text:
            self.links.value = text

    def _read(self) -> None:
        """The widgets' values into the draft (raises ConfigError on a bad links box)."""
        d = self.draft
        if d.type != self.type.value:
            d.type = self.type.value
            self._links_text(reset=True)
        d.name = self.name.value.strip()
        d.description = self.description.value.strip()
        d.stop_text = self.stop_text.value.strip() or None
        d.max_messages = self.max_messages.value or None
        d.timeout_s = self.timeout.value or None
        d.selector_prompt = self.selector_prompt.value.strip() or None
        d.handoffs = parse_handoffs(self.links.value) if d.type == "swarm" else {}
        d.edges = parse_edges(self.links.value) if d.type == "graph" else []

    def refresh(self) -> None:
        """Redraw the member list, the type's fields and the YAML preview."""
        self.members.options = [a.name for a in self.draft.agents]
        linked = self.type.value in ("swarm", "graph")
        self.links.layout.display = "" if linked else "none"
        self.links.description = "handoffs" if self.type.value == "swarm" else "edges"
        self.selector_prompt.layout.display = "" if self.type.value == "selector" else "none"
        problem = None
        try:
            self._read()
            if self.draft.agents:
                self.draft.spec()
            else:
                problem = "add at least one agent"
        except ConfigError as exc:
            problem = str(exc)
        self._say(problem)
        self.preview.value = f"<pre>{html.escape(self.draft.to_yaml())}</pre>"

    def _say(self, problem: str | None, note: str = "") -> None:
        text = f"<div style='{_ERROR}'>{html.escape(problem)}</div>" if problem else ""
        self.message.value = text + (f"<div>{note}</div>" if note else "")

    def save(self) -> Path | None:
        """Save the team file; None (with the reason shown) if it is not valid."""
        try:
            self._read()
            path = self.draft.save(self.path.value.strip() or None, overwrite=self.overwrite.value)
        except ConfigError as exc:
            self._say(str(exc))
            return None
        self._say(None, f"saved {html.escape(str(path))} — run it with --team {self.draft.name}")
        return path
