"""Team spec → AutoGen AgentChat team; always called inside the coroutine that runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.base import Team
from autogen_agentchat.teams import (
    DiGraphBuilder,
    GraphFlow,
    RoundRobinGroupChat,
    SelectorGroupChat,
    Swarm,
)

from botarmy_nb.engine.termination import RunTermination
from botarmy_nb.events import ModelCallEvent
from botarmy_nb.models.cassette import CassetteRecorder
from botarmy_nb.models.prices import PriceTable, price_table
from botarmy_nb.models.registry import (
    AgentContext,
    check_provider,
    create_client,
    effective_spec,
    known_providers,
)
from botarmy_nb.models.resilient import ResilientClient, RetryPolicy
from botarmy_nb.models.spec import ModelSpec, parse_model_chain
from botarmy_nb.specs.team import AgentSpec, TeamSpec

__all__ = ["BuiltTeam", "build_team", "resolve_agent_models"]


@dataclass
class BuiltTeam:
    team: Team
    external: RunTermination  # .set() stops the team gracefully
    # agent name → the model that serves it, with the base URL in force (credentials-free)
    models: dict[str, ModelSpec]


def resolve_agent_models(
    spec: TeamSpec,
    default_model: str,
    overrides: dict[str, str] | None = None,
    *,
    check: bool = False,
) -> dict[str, list[ModelSpec]]:
    """Each agent's model chain: ``--model agent=…`` > agent YAML > team YAML > run default.

    With ``check``, every model of every chain must be usable now (key, package, cassette).
    """
    overrides = overrides or {}
    chains: dict[str, list[ModelSpec]] = {}
    for agent in spec.agents:
        text = overrides.get(agent.name) or agent.model or spec.model or default_model
        chains[agent.name] = parse_model_chain(text, option=f"model of agent '{agent.name}'")
    if spec.type == "selector":
        selector = overrides.get("selector") or spec.model or default_model
        chains["selector"] = parse_model_chain(selector, option="selector model")
    if check:
        for chain in chains.values():
            for model in chain:
                check_provider(model)
    return chains


def make_client(
    context: AgentContext,
    chain: list[ModelSpec],
    *,
    run_id: str,
    emit: Callable[[ModelCallEvent], None],
    policy: RetryPolicy | None = None,
    prices: PriceTable | None = None,
    recorder: CassetteRecorder | None = None,
) -> ResilientClient:
    """One agent's model: its chain of provider clients behind retries and metering."""
    pairs = [(model, create_client(model, context)) for model in chain]
    return ResilientClient(
        pairs,
        run_id=run_id,
        agent=context.agent,
        emit=emit,
        policy=policy or RetryPolicy.from_settings(),
        prices=prices or price_table(),
        recorder=recorder,
    )


def _tools(agent: AgentSpec) -> list[Any] | None:
    """An agent's AutoGen tools, loaded only for a team the user trusts: loading a
    FunctionTool runs its stored source (DESIGN §5)."""
    if not getattr(agent, "tools", None):
        return None
    from autogen_core import ComponentLoader
    from autogen_core.tools import BaseTool

    return [ComponentLoader.load_component(t, expected=BaseTool) for t in agent.tools]


def build_team(
    spec: TeamSpec,
    *,
    run_id: str,
    chains: dict[str, list[ModelSpec]],
    emit: Callable[[ModelCallEvent], None],
    max_turns: int | None = None,
    recorder: CassetteRecorder | None = None,
) -> BuiltTeam:
    """Build a fresh team whose model clients report every call through ``emit``."""
    closing = spec.closing_agent()
    stop_word = spec.termination.text

    policy = RetryPolicy.from_settings()
    prices = price_table()
    providers = known_providers()

    def client(name: str, agent: AgentSpec | None) -> ResilientClient:
        context = AgentContext(
            agent=name,
            role=agent.role if agent else "selector",
            instructions=agent.system_message if agent else "",
            stop_word=stop_word,
            ends_conversation=name == closing,
            participants=tuple(spec.agent_names),
        )
        return make_client(
            context,
            chains[name],
            run_id=run_id,
            emit=emit,
            policy=policy,
            prices=prices,
            recorder=recorder,
        )

    def streams(name: str) -> bool:
        return providers[chains[name][0].provider].streams

    agents = [
        AssistantAgent(
            name=a.name,
            model_client=client(a.name, a),
            system_message=a.system_message or None,
            description=a.description or a.role or a.name,
            handoffs=list(a.handoffs) if spec.type == "swarm" else None,
            model_client_stream=streams(a.name),
            tools=_tools(a) if spec.trust_code else None,
        )
        for a in spec.agents
    ]
    t = spec.termination
    termination = RunTermination(
        text=t.text, sources=spec.agent_names, max_messages=t.max_messages, timeout_s=t.timeout_s
    )
    turns = max_turns or spec.max_turns
    team: Team
    if spec.type == "round_robin":
        team = RoundRobinGroupChat(agents, termination_condition=termination, max_turns=turns)
    elif spec.type == "selector":
        kwargs = {"selector_prompt": spec.selector_prompt} if spec.selector_prompt else {}
        team = SelectorGroupChat(
            agents,
            model_client=client("selector", None),
            termination_condition=termination,
            max_turns=turns,
            **kwargs,
        )
    elif spec.type == "swarm":
        team = Swarm(agents, termination_condition=termination, max_turns=turns)
    else:
        assert spec.graph is not None
        builder = DiGraphBuilder()
        by_name = {a.name: a for a in agents}
        for agent in agents:
            builder.add_node(agent)
        for edge in spec.graph.edges:
            builder.add_edge(
                by_name[edge.source],
                by_name[edge.target],
                condition=edge.condition,
                activation_group=edge.activation_group,
                activation_condition=edge.activation_condition,
            )
        team = GraphFlow(
            agents, graph=builder.build(), termination_condition=termination, max_turns=turns
        )
    models = {name: effective_spec(chain[0]) for name, chain in chains.items()}
    return BuiltTeam(team=team, external=termination, models=models)
