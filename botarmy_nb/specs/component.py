"""AutoGen component JSON teams: read what ``team.dump_component()`` wrote, write it back.

A team exported from AutoGen (or AutoGen Studio) becomes a :class:`TeamSpec` and runs
through our engine, events and store. Its model clients map onto our provider registry;
API keys are never read from the file (``dump_component`` writes them as ``**********``,
and loading those would use the asterisks as the key): providers take keys from the
environment. A ``FunctionTool`` carries Python source that AutoGen's ``load_component``
runs with ``exec()``, so a team with one is refused unless the user trusts the file
(``trust_code=True`` / ``--trust-code``). Only the component kinds below are accepted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from botarmy_nb.errors import ConfigError, SpecError
from botarmy_nb.specs.team import (
    AgentSpec,
    EdgeSpec,
    GraphSpec,
    TeamSpec,
    TerminationSpec,
)

__all__ = ["export_team", "load_component_team", "team_from_component", "team_to_component"]

_TEAMS = {
    "autogen_agentchat.teams.RoundRobinGroupChat": "round_robin",
    "autogen_agentchat.teams.SelectorGroupChat": "selector",
    "autogen_agentchat.teams.Swarm": "swarm",
    "autogen_agentchat.teams.GraphFlow": "graph",
}
_PROVIDER_OF_TYPE = {v: k for k, v in _TEAMS.items()}
_AGENT = "autogen_agentchat.agents.AssistantAgent"
_OPENAI = "autogen_ext.models.openai.OpenAIChatCompletionClient"
_ANTHROPIC = "autogen_ext.models.anthropic.AnthropicChatCompletionClient"
_OLLAMA = "autogen_ext.models.ollama.OllamaChatCompletionClient"
_REPLAY = "autogen_ext.models.replay.ReplayChatCompletionClient"
_FUNCTION_TOOL = "autogen_core.tools.FunctionTool"
MAX_FILE_BYTES = 5_000_000


def _fail(source: str, field: str, message: str) -> SpecError:
    return SpecError(message, file=source, field=field)


def _model_spec(client: Any, source: str, field: str) -> str | None:
    """Our model spec for a dumped model client (None: not mappable, the run's default
    model serves that agent). The client's credentials are ignored."""
    if not isinstance(client, dict):
        return None
    provider = str(client.get("provider", ""))
    config = client.get("config") if isinstance(client.get("config"), dict) else {}
    model = str(config.get("model") or "")
    if provider == _OPENAI and model:
        base_url = config.get("base_url")
        if base_url:
            return f"openai-compatible:{model}@{base_url}"
        return f"gemini:{model}" if model.startswith("gemini") else f"openai:{model}"
    if provider == _ANTHROPIC and model:
        return f"anthropic:{model}"
    if provider == _OLLAMA and model:
        host = str(config.get("host") or "http://localhost:11434").rstrip("/")
        return f"openai-compatible:{model}@{host}/v1"
    if provider == _REPLAY:
        return "scripted"  # canned replies: our offline model is the nearest thing
    return None


def _tools(agent: dict[str, Any]) -> list[dict[str, Any]]:
    tools = list(agent.get("tools") or [])
    for bench in agent.get("workbench") or []:
        if isinstance(bench, dict) and isinstance(bench.get("config"), dict):
            tools += list(bench["config"].get("tools") or [])
    return [t for t in tools if isinstance(t, dict)]


def _termination(component: Any, spec: dict[str, Any]) -> None:
    """Fold a dumped termination condition (And/Or trees included) into our fields."""
    if not isinstance(component, dict):
        return
    provider = str(component.get("provider", ""))
    config = component.get("config") if isinstance(component.get("config"), dict) else {}
    if provider.endswith(("OrTerminationCondition", "AndTerminationCondition")):
        for child in config.get("conditions") or []:
            _termination(child, spec)
    elif provider.endswith("TextMentionTermination") and config.get("text"):
        spec["text"] = str(config["text"])
    elif provider.endswith("MaxMessageTermination") and config.get("max_messages"):
        spec["max_messages"] = int(config["max_messages"])
    elif provider.endswith("TimeoutTermination") and config.get("timeout_seconds"):
        spec["timeout_s"] = float(config["timeout_seconds"])


def team_from_component(
    data: Any, *, source: str = "<component>", trust_code: bool = False, name: str | None = None
) -> TeamSpec:
    """A TeamSpec from a dumped AutoGen team component (a dict as ``model_dump()`` gives)."""
    if not isinstance(data, dict) or data.get("component_type") not in (None, "team"):
        raise _fail(source, "component_type", "not an AutoGen team component")
    provider = str(data.get("provider", ""))
    if provider not in _TEAMS:
        raise _fail(
            source,
            "provider",
            f"team type {provider or '(none)'} is not supported; botarmy-nb runs "
            + ", ".join(p.rsplit(".", 1)[1] for p in _TEAMS),
        )
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    agents: list[AgentSpec] = []
    for i, participant in enumerate(config.get("participants") or []):
        where = f"config.participants.{i}"
        if not isinstance(participant, dict) or participant.get("provider") != _AGENT:
            kind = participant.get("provider") if isinstance(participant, dict) else participant
            raise _fail(
                source, where, f"participant {kind!r} is not supported (only AssistantAgent)"
            )
        agent = participant.get("config") or {}
        for tool in _tools(agent):
            if tool.get("provider") == _FUNCTION_TOOL and not trust_code:
                tool_name = (tool.get("config") or {}).get("name", "?")
                raise _fail(
                    source,
                    f"{where}.tools",
                    f"agent '{agent.get('name')}' has a FunctionTool ('{tool_name}') whose "
                    "Python source would run when loaded; pass --trust-code "
                    "(trust_code=True) only if you trust this file",
                )
        handoffs = [
            str(h.get("target") if isinstance(h, dict) else h) for h in agent.get("handoffs") or []
        ]
        agents.append(
            AgentSpec(
                name=str(agent.get("name", "")),
                description=str(agent.get("description") or ""),
                system_message=str(agent.get("system_message") or ""),
                model=_model_spec(agent.get("model_client"), source, f"{where}.model_client"),
                handoffs=handoffs,
                tools=_tools(agent) if trust_code else [],
            )
        )
    if not agents:
        raise _fail(source, "config.participants", "the team has no participants")
    ends: dict[str, Any] = {}
    _termination(config.get("termination_condition"), ends)
    termination = (
        TerminationSpec(
            text=ends.get("text"),
            max_messages=ends.get("max_messages"),
            timeout_s=ends.get("timeout_s"),
        )
        if ends
        else TerminationSpec()
    )
    team_type = _TEAMS[provider]
    graph = None
    if team_type == "graph":
        nodes = ((config.get("graph") or {}).get("nodes")) or {}
        edges = [
            EdgeSpec.model_validate(
                {
                    "from": node_name,
                    "to": edge.get("target"),
                    "condition": edge.get("condition")
                    if isinstance(edge.get("condition"), str)
                    else None,
                    "activation_group": edge.get("activation_group"),
                    "activation_condition": edge.get("activation_condition"),
                }
            )
            for node_name, node in nodes.items()
            for edge in (node.get("edges") or [])
        ]
        graph = GraphSpec(edges=edges)
    spec = TeamSpec(
        name=name or str(config.get("name") or "team"),
        description=str(config.get("description") or data.get("description") or ""),
        type=team_type,  # type: ignore[arg-type]
        model=_model_spec(config.get("model_client"), source, "config.model_client"),
        agents=agents,
        termination=termination,
        max_turns=config.get("max_turns"),
        selector_prompt=config.get("selector_prompt"),
        graph=graph,
        trust_code=trust_code and any(a.tools for a in agents),
    )
    spec.source = source
    return spec


def load_component_team(path: Path, *, trust_code: bool = False) -> TeamSpec:
    """A team from a component JSON file; the team is named after the file."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise _fail(str(path), "", f"the file is larger than {MAX_FILE_BYTES} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read team file {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise SpecError(f"not valid JSON: {exc.msg}", file=str(path), line=exc.lineno) from None
    from pydantic import ValidationError

    try:
        return team_from_component(
            data, source=str(path), trust_code=trust_code, name=path.stem.replace(" ", "-")
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise SpecError(first["msg"], file=str(path), field=field) from None


# -- export --------------------------------------------------------------------------------


def _component(
    provider: str, kind: str, config: dict[str, Any], version: int = 1
) -> dict[str, Any]:
    return {
        "provider": provider,
        "component_type": kind,
        "version": version,
        "component_version": version,
        "label": provider.rsplit(".", 1)[1],
        "config": config,
    }


def _client_component(spec_text: str) -> dict[str, Any]:
    """A model client AutoGen can load, credentials left to the environment."""
    from botarmy_nb.models.spec import parse_model_chain

    spec = parse_model_chain(spec_text, option="model")[0]
    if spec.provider == "anthropic":
        return _component(_ANTHROPIC, "model", {"model": spec.model})
    if spec.provider in ("openai", "gemini"):
        return _component(_OPENAI, "model", {"model": spec.model})
    if spec.provider == "openai-compatible":
        info = {"vision": False, "function_calling": True, "json_output": True,
                "family": "unknown", "structured_output": False}  # fmt: skip
        config = {"model": spec.model, "base_url": spec.base_url, "model_info": info}
        return _component(_OPENAI, "model", config)
    # scripted / replay are ours alone: a replay client keeps the team loadable offline
    return _component(
        _REPLAY, "model", {"chat_completions": ["(botarmy-nb offline model: choose a model)"]}
    )


def team_to_component(spec: TeamSpec, *, model: str) -> dict[str, Any]:
    """The component JSON (as a dict) of a team, each agent with its resolved model."""
    from botarmy_nb.engine.build import resolve_agent_models

    chains = resolve_agent_models(spec, model)
    participants = []
    for agent in spec.agents:
        config: dict[str, Any] = {
            "name": agent.name,
            "model_client": _client_component(str(chains[agent.name][0])),
            "description": agent.description or agent.role or agent.name,
            "system_message": agent.system_message or None,
            "model_client_stream": False,
            "reflect_on_tool_use": False,
            "tool_call_summary_format": "{result}",
        }
        if spec.type == "swarm" and agent.handoffs:
            config["handoffs"] = [
                {
                    "target": target,
                    "description": f"Handoff to {target}.",
                    "name": f"transfer_to_{target}",
                    "message": f"Transferred to {target}, adopting the role of {target} "
                    "immediately.",
                }
                for target in agent.handoffs
            ]
        participants.append(_component(_AGENT, "agent", config, version=2))
    conditions = []
    t = spec.termination
    if t.text:
        conditions.append(
            _component(
                "autogen_agentchat.conditions.TextMentionTermination",
                "termination",
                {"text": t.text},
            )
        )
    if t.max_messages:
        conditions.append(
            _component(
                "autogen_agentchat.conditions.MaxMessageTermination",
                "termination",
                {"max_messages": t.max_messages},
            )
        )
    if t.timeout_s:
        conditions.append(
            _component(
                "autogen_agentchat.conditions.TimeoutTermination",
                "termination",
                {"timeout_seconds": t.timeout_s},
            )
        )
    team: dict[str, Any] = {"participants": participants}
    if spec.type != "graph":
        if len(conditions) > 1:
            team["termination_condition"] = _component(
                "autogen_agentchat.base.OrTerminationCondition",
                "termination",
                {"conditions": conditions},
            )
        elif conditions:
            team["termination_condition"] = conditions[0]
    if spec.max_turns:
        team["max_turns"] = spec.max_turns
    if spec.type == "selector":
        team["model_client"] = _client_component(str(chains["selector"][0]))
        team["allow_repeated_speaker"] = False
        team["max_selector_attempts"] = 3
        if spec.selector_prompt:
            team["selector_prompt"] = spec.selector_prompt
    if spec.type == "graph" and spec.graph is not None:
        nodes: dict[str, Any] = {
            a.name: {"name": a.name, "edges": [], "activation": "all"} for a in spec.agents
        }
        for edge in spec.graph.edges:
            nodes[edge.source]["edges"].append(
                {
                    "target": edge.target,
                    "condition": edge.condition,
                    "activation_group": edge.activation_group or edge.target,
                    "activation_condition": edge.activation_condition or "all",
                }
            )
        team["graph"] = {"nodes": nodes}
    out = _component(_PROVIDER_OF_TYPE[spec.type], "team", team)
    out["description"] = spec.description or spec.name
    return out


def export_team(name: str, path: str | Path, *, model: str | None = None) -> Path:
    """Write team ``name`` (a name, YAML or JSON path) as AutoGen component JSON that
    AutoGen Studio imports (``load_component``). Agents keep their models; ``model`` is
    the default for those without one. No key is written: AutoGen reads keys from the
    environment when it loads the team.

    >>> export_team("writers-room", "writers-room.json")  # doctest: +SKIP
    """
    from botarmy_nb.settings import get_settings
    from botarmy_nb.specs.catalog import find_team

    spec = find_team(name)
    data = team_to_component(spec, model=model or get_settings().default_model)
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return target
