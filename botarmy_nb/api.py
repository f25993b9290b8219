"""The Python API: start runs, find them, and read their data across runs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botarmy_nb.data import artifacts, messages, model_calls, runs
from botarmy_nb.errors import ConfigError, RunError
from botarmy_nb.handle import Run

if TYPE_CHECKING:
    from botarmy_nb.engine.request import RunRequest
    from botarmy_nb.store.base import RunStore

__all__ = [
    "artifacts",
    "arun",
    "get_run",
    "last_run",
    "messages",
    "model_calls",
    "prepare",
    "reply",
    "resume",
    "run",
    "runs",
    "submit",
    "substitute",
]

_last_run: Run | None = None
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}")


def substitute(text: str, variables: Mapping[str, str], *, where: str) -> str:
    """Fill ``{{name}}`` placeholders; every placeholder must have a value."""
    missing = sorted({m for m in _PLACEHOLDER.findall(text) if m not in variables})
    if missing:
        raise ConfigError(
            f"{where} uses variables with no value: {', '.join(missing)} "
            f"(give them with --var NAME=VALUE)"
        )
    return _PLACEHOLDER.sub(lambda m: str(variables[m.group(1)]), text)


def _store(database_url: str | None = None) -> RunStore:
    from botarmy_nb.store.base import open_store

    return open_store(database_url)


@dataclass
class PreparedRun:
    """A validated run request, ready to register and submit (shared by the magics, the
    CLI, the widgets and sweeps)."""

    request: RunRequest
    name: str
    executor: str
    team: str | None = None
    queue: str | None = None
    priority: int | None = None
    timeout_s: float | None = None
    tags: dict[str, str] = field(default_factory=dict)


def prepare(
    task: str,
    *,
    team: str | None = None,
    workflow: str | None = None,
    template: str | None = None,
    model: str | None = None,
    agent_models: Mapping[str, str] | None = None,
    variables: Mapping[str, str] | None = None,
    executor: str | None = None,
    name: str | None = None,
    max_turns: int | None = None,
    record: str | Path | None = None,
    replay: str | Path | None = None,
    queue: str | None = None,
    priority: int | None = None,
    timeout_s: float | None = None,
    tags: Mapping[str, str] | None = None,
    hitl_timeout_s: float | None = None,
    bmad: str | Path | Sequence[str | Path] | None = None,
    trust_code: bool = False,
) -> PreparedRun:
    """Validate everything about a run before anything is written; raise ConfigError
    (naming the option at fault) otherwise."""
    from botarmy_nb.engine.build import resolve_agent_models
    from botarmy_nb.engine.request import RunRequest
    from botarmy_nb.executors.base import get_executor
    from botarmy_nb.models.spec import parse_model_chain
    from botarmy_nb.settings import get_settings
    from botarmy_nb.specs.catalog import find_team

    if sum(x is not None for x in (team, workflow, template)) > 1:
        raise ConfigError("give one of --team, --workflow or --template")
    executor = executor or get_settings().executor
    get_executor(executor)  # unknown or unavailable: say so now, never switch silently
    if not task or not task.strip():
        raise ConfigError("the task is empty: write it in the cell body or pass task=")
    if max_turns is not None and max_turns < 1:
        raise ConfigError(f"max_turns must be at least 1, not {max_turns}")
    if timeout_s is not None and not timeout_s > 0:
        raise ConfigError(f"timeout must be a positive number of seconds, not {timeout_s}")
    if hitl_timeout_s is not None and not hitl_timeout_s > 0:
        raise ConfigError(
            f"hitl_timeout_s must be a positive number of seconds, not {hitl_timeout_s}"
        )
    variables = {str(k): str(v) for k, v in (variables or {}).items()}
    if record and replay:
        raise ConfigError(
            "--record and --replay exclude each other: replay a cassette, or record a new one"
        )
    default_model = model or get_settings().default_model
    parse_model_chain(default_model, option="--model")
    team_name = None
    if workflow or template:
        request, label = _bmad_request(
            task,
            workflow,
            template,
            default_model,
            dict(agent_models or {}),
            variables,
            replay,
            bmad=(list(bmad) or None) if isinstance(bmad, list | tuple) else bmad,
        )
    else:
        # an AutoGen component JSON team: --model replaces its clients; code only if trusted
        spec = find_team(team, trust_code=trust_code, model=model)
        if replay:  # every agent (and a selector) answers from the cassette
            replay_spec = f"replay:{Path(replay).expanduser().resolve()}"
            default_model = replay_spec
            agent_models = {name: replay_spec for name in [*spec.agent_names, "selector"]}
        overrides = dict(agent_models or {})
        _known_agents(overrides, [*spec.agent_names, "selector"])
        resolve_agent_models(spec, default_model, overrides, check=True)  # usable now
        task = substitute(task, variables, where="the task")
        for agent in spec.agents:
            agent.system_message = substitute(
                agent.system_message, variables, where=f"agent '{agent.name}' instructions"
            )
        request = RunRequest(
            task=task,
            team=spec,
            default_model=default_model,
            agent_models=overrides,
            variables=variables,
            max_turns=max_turns,
        )
        label, team_name = spec.name, spec.name
        queue = queue or getattr(spec, "queue", None)
    if record:
        request.record_path = str(Path(record).expanduser().resolve())
    request.hitl_timeout_s = hitl_timeout_s
    return PreparedRun(
        request=request,
        name=name or label,
        executor=executor,
        team=team_name,
        queue=queue,
        priority=priority,
        timeout_s=timeout_s,
        tags={str(k): str(v) for k, v in (tags or {}).items()},
    )


def submit(prepared: PreparedRun) -> Run:
    """Register a prepared run in the store and hand it to its executor."""
    global _last_run
    from botarmy_nb.executors.base import get_executor
    from botarmy_nb.store.records import NewRun

    store = _store()
    executor = get_executor(prepared.executor)
    request = prepared.request
    run_id = uuid.uuid4().hex
    record = store.create_run(
        NewRun(
            id=run_id,
            name=prepared.name,
            task=request.task,
            model=request.default_model,
            executor=executor.name,
            team=prepared.team,
            workflow=request.workflow,
            template=request.template,
            spec=request.to_json(),
            variables=request.variables,
            queue=prepared.queue,
            priority=prepared.priority,
            timeout_s=prepared.timeout_s,
            tags=prepared.tags,
            **executor.start_fields(),
        )
    )
    executor.submit(run_id, store, record)
    _last_run = Run(run_id, store)
    return _last_run


def run(task: str, **options: Any) -> Run:
    """Validate everything, register the run, start it in the background, return its handle.

    Options are those of :func:`prepare` (team, workflow, template, model, agent_models,
    variables, executor, name, max_turns, record, replay, queue, priority, timeout_s, tags).

    >>> r = run("Write a haiku about tests", team="writers-room")  # doctest: +SKIP
    >>> r.wait().messages  # doctest: +SKIP
    """
    return submit(prepare(task, **options))


def _known_agents(overrides: Mapping[str, str], names: list[str]) -> None:
    from botarmy_nb.errors import did_you_mean

    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise ConfigError(
            f"--model names unknown agent '{unknown[0]}'"
            + did_you_mean(unknown[0], [n for n in names if n != "selector"])
        )


def _bmad_request(
    task: str,
    workflow: str | None,
    template: str | None,
    default_model: str,
    overrides: dict[str, str],
    variables: dict[str, str],
    replay: str | Path | None,
    bmad: str | Path | list[str | Path] | None = None,
) -> tuple[Any, str]:
    """Validate a workflow/template run before it starts: names, the templates its steps
    resolve to (a broken one refuses the run, naming its file), inputs, models.

    ``bmad``: core and pack folders for this run, searched before BOTARMY_BMAD_PATH and
    the bundled core.
    """
    from botarmy_nb.bmad.document import missing_inputs
    from botarmy_nb.bmad.loader import bmad_search_path, load_bmad
    from botarmy_nb.bmad.plan import plan_run
    from botarmy_nb.engine.request import RunRequest
    from botarmy_nb.engine.workflow import REPEAT_VARIABLES
    from botarmy_nb.errors import SpecError
    from botarmy_nb.models.registry import check_provider
    from botarmy_nb.models.spec import parse_model_chain
    from botarmy_nb.paths import validate_bmad_paths

    if bmad is None:
        core = load_bmad()
    else:
        chosen = [bmad] if isinstance(bmad, str | Path) else list(bmad)
        core = load_bmad([*chosen, *bmad_search_path()])
    plan = plan_run(core, workflow=workflow, template=template, variables=variables)
    validate_bmad_paths(core, workflow=plan.key if workflow else None, template=template)
    provided = set(variables) | (set(REPEAT_VARIABLES) if workflow else set())
    for needed in plan.templates:
        missing = sorted(set(missing_inputs(needed, {})) - provided)
        if missing:
            raise SpecError(
                f"{plan.what} needs values for: {', '.join(missing)} "
                "(give them with --var NAME=VALUE)",
                file=needed.source,
                line=needed.field_lines.get("inputs"),
                field="template.inputs",
            )
    if replay:
        default_model = f"replay:{Path(replay).expanduser().resolve()}"
        overrides = {}
    _known_agents(overrides, list(core.agents))
    for agent in plan.agents:
        for spec in parse_model_chain(
            overrides.get(agent) or default_model, option=f"model of agent '{agent}'"
        ):
            check_provider(spec)
    request = RunRequest(
        task=task.strip() or plan.key,
        workflow=plan.key if workflow else None,
        template=plan.key if template else None,
        bmad_roots=core.roots,
        default_model=default_model,
        agent_models=overrides,
        variables=variables,
    )
    return request, plan.key


async def arun(task: str, **options: Any) -> Run:
    """Like :func:`run`, awaiting the run's end without blocking the caller's event loop."""
    import asyncio

    handle = run(task, **options)
    await asyncio.get_running_loop().run_in_executor(None, handle.wait)
    return handle


RESUMABLE = ("lost", "failed", "cancelled")


def resume(ref: str, *, executor: str | None = None) -> Run:
    """Resume a run whose owner is gone (``lost``), or that failed or was cancelled.

    A workflow run goes on at the first step it did not finish; a team run from its last
    checkpoint. A run with a live owner anywhere is refused (RunBusyError), so a run is
    never executed twice at once.
    """
    global _last_run
    from botarmy_nb.engine.lease import process_owner
    from botarmy_nb.errors import RunBusyError
    from botarmy_nb.executors.base import get_executor
    from botarmy_nb.refs import resolve_run

    store = _store()
    record = resolve_run(ref, store)  # marks it lost if its owner stopped heart-beating
    if record.status == "completed":
        raise ConfigError(
            f"run {record.short_id} already completed (continue a team run with run.reply)"
        )
    if record.status in ("running", "queued"):
        raise RunBusyError(
            f"run {record.short_id} is {record.status} (owner {record.worker or 'a worker'}, "
            f"last heard of at {record.heartbeat_at or record.created_at:%H:%M:%S} UTC): "
            "wait for it or cancel it first"
        )
    chosen = get_executor(executor or record.executor)
    if chosen.name == "local":
        claimed = store.claim_run(
            record.id, process_owner(), statuses=RESUMABLE, lease_s=store_lease_s()
        )
    else:
        # a deliberate resume gets a fresh attempt budget (the limit stops crash loops)
        claimed = store.requeue_run(
            record.id, statuses=RESUMABLE, executor=chosen.name, reset_attempts=True
        )
    if claimed is None:
        raise RunBusyError(f"run {record.short_id} was resumed by another process just now")
    chosen.submit(record.id, store)
    _last_run = Run(record.id, store)
    return _last_run


def reply(ref: str, message: str, *, executor: str | None = None) -> Run:
    """Continue a finished team run with a new message (``run.reply`` / ``%%botarmy
    --continue RUN``): the team goes on from its final state, under the same run id."""
    global _last_run
    from botarmy_nb.engine.lease import process_owner
    from botarmy_nb.engine.request import RunRequest
    from botarmy_nb.errors import RunBusyError
    from botarmy_nb.executors.base import get_executor

    if not message or not message.strip():
        raise ConfigError("the reply is empty: write the message to continue the run with")
    from botarmy_nb.refs import resolve_run

    store = _store()
    record = resolve_run(ref, store)
    if record.status in ("running", "queued"):
        raise RunBusyError(f"run {record.short_id} is still {record.status}: wait for it first")
    request = RunRequest.from_stored(record.spec)
    if request.team is None:
        raise ConfigError(
            f"run {record.short_id} is a workflow run; only team runs continue with a reply"
        )
    checkpoint = store.latest_checkpoint(record.id)
    if checkpoint is None or "team" not in checkpoint.state:
        raise ConfigError(f"run {record.short_id} has no saved team state to continue from")
    request.followups.append(message.strip())
    chosen = get_executor(executor or record.executor)
    ended = ("completed", "failed", "cancelled", "lost")
    if chosen.name == "local":
        claimed = store.claim_run(
            record.id, process_owner(), statuses=ended, lease_s=store_lease_s()
        )
        if claimed is not None:
            store.update_run(record.id, spec=request.to_json())
    else:
        store.update_run(record.id, spec=request.to_json())
        claimed = store.requeue_run(record.id, statuses=ended, executor=chosen.name)
    if claimed is None:
        raise RunBusyError(f"run {record.short_id} was taken by another process just now")
    chosen.submit(record.id, store)
    _last_run = Run(record.id, store)
    return _last_run


def store_lease_s() -> float:
    from botarmy_nb.settings import get_settings

    return get_settings().lease_s


def last_run() -> Run:
    if _last_run is None:
        raise RunError("no run was started in this process yet")
    return _last_run


def get_run(ref: str) -> Run:
    """A run by id, id prefix or a name only one run has, from any process that shares
    the database (a name several runs share is refused, listing them)."""
    from botarmy_nb.refs import resolve_run

    store = _store()
    return Run(resolve_run(ref, store).id, store)
