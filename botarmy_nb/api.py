"""The Python API: start runs, find them, and read their data across runs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botarmy_nb.errors import ConfigError, RunError
from botarmy_nb.handle import Run

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "artifacts",
    "arun",
    "get_run",
    "last_run",
    "messages",
    "model_calls",
    "resume",
    "run",
    "runs",
    "substitute",
]

_last_run: Run | None = None
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}")
EXECUTORS = ("local", "celery")


def substitute(text: str, variables: Mapping[str, str], *, where: str) -> str:
    """Fill ``{{name}}`` placeholders; every placeholder must have a value."""
    missing = sorted({m for m in _PLACEHOLDER.findall(text) if m not in variables})
    if missing:
        raise ConfigError(
            f"{where} uses variables with no value: {', '.join(missing)} "
            f"(give them with --var NAME=VALUE)"
        )
    return _PLACEHOLDER.sub(lambda m: str(variables[m.group(1)]), text)


def _store(database_url: str | None = None):  # type: ignore[no-untyped-def]
    from botarmy_nb.store.sql import open_store

    return open_store(database_url)


def _executor():  # type: ignore[no-untyped-def]
    from botarmy_nb.executors.local import get_local_executor

    return get_local_executor()


def run(
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
) -> Run:
    """Validate everything, register the run, start it in the background, return its handle.

    >>> r = run("Write a haiku about tests", team="writers-room")  # doctest: +SKIP
    >>> r.wait().messages  # doctest: +SKIP
    """
    global _last_run
    from botarmy_nb.engine.build import resolve_agent_models
    from botarmy_nb.engine.request import RunRequest
    from botarmy_nb.models.spec import parse_model_chain
    from botarmy_nb.settings import get_settings
    from botarmy_nb.specs.catalog import find_team
    from botarmy_nb.store.records import NewRun

    if sum(x is not None for x in (team, workflow, template)) > 1:
        raise ConfigError("give one of --team, --workflow or --template")
    executor = executor or "local"
    if executor not in EXECUTORS:
        raise ConfigError(f"executor {executor!r} is unknown; choose one of {', '.join(EXECUTORS)}")
    if executor == "celery":
        raise ConfigError("the celery executor is not available yet; use --executor local")
    if not task or not task.strip():
        raise ConfigError("the task is empty: write it in the cell body or pass task=")
    if max_turns is not None and max_turns < 1:
        raise ConfigError(f"max_turns must be at least 1, not {max_turns}")
    variables = {str(k): str(v) for k, v in (variables or {}).items()}
    if record and replay:
        raise ConfigError(
            "--record and --replay exclude each other: replay a cassette, or record a new one"
        )
    default_model = model or get_settings().default_model
    parse_model_chain(default_model, option="--model")
    if workflow or template:
        request, label = _bmad_request(
            task, workflow, template, default_model, dict(agent_models or {}), variables, replay
        )
        team_name = None
    else:
        spec = find_team(team)
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
    if record:
        request.record_path = str(Path(record).expanduser().resolve())
    store = _store()
    run_id = uuid.uuid4().hex
    started = store.started_fields(run_id)  # the local executor starts it right away
    store.create_run(
        NewRun(
            status="running",
            started_at=started["started_at"],
            worker=started["worker"],
            id=run_id,
            name=name or label,
            task=request.task,
            model=request.default_model,
            executor=executor,
            team=team_name,
            workflow=request.workflow,
            template=request.template,
            spec=request.to_json(),
            variables=variables,
        )
    )
    local = _executor()
    local.submit(run_id, store)
    _last_run = Run(run_id, store, local)
    return _last_run


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
) -> tuple[Any, str]:
    """Validate a workflow/template run before it starts: names, inputs, models."""
    from botarmy_nb.bmad.document import missing_inputs
    from botarmy_nb.bmad.loader import load_bmad
    from botarmy_nb.engine.request import RunRequest
    from botarmy_nb.engine.workflow import REPEAT_VARIABLES
    from botarmy_nb.errors import NotFoundError, did_you_mean
    from botarmy_nb.models.registry import check_provider
    from botarmy_nb.models.spec import parse_model_chain

    core = load_bmad()
    if workflow is not None:
        key = Path(workflow).stem
        if key not in core.workflows:
            raise NotFoundError(
                f"unknown workflow '{workflow}'" + did_you_mean(key, core.workflows)
            )
        flow = core.workflows[key]
        templates = [
            t
            for t in (
                (core.template(s.uses) if s.uses else None)
                or (core.template_for(s.creates) if s.creates else None)
                for s in flow.steps
            )
            if t
        ]
        agents = sorted(
            {a for s in flow.steps for a in s.agents} | {"po", "pm", "analyst"} & set(core.agents)
        )
        provided = set(variables) | set(REPEAT_VARIABLES)
        label, what = key, f"workflow '{key}'"
    else:
        found = core.template(str(template))
        if found is None:
            raise NotFoundError(
                f"unknown template '{template}'" + did_you_mean(str(template), core.templates)
            )
        templates, key = [found], found.file_stem
        agents = sorted(
            {
                core.agent_for_owner(s.owner)
                for top in found.sections
                for s in top.walk()
                if core.agent_for_owner(s.owner)
            }
            | ({"pm", "analyst"} & set(core.agents))
        )  # type: ignore[arg-type]
        provided = set(variables)
        label, what = key, f"template '{key}'"
    for needed in templates:
        missing = sorted(set(missing_inputs(needed, {})) - provided)
        if missing:
            from botarmy_nb.errors import SpecError

            raise SpecError(
                f"{what} needs values for: {', '.join(missing)} (give them with --var NAME=VALUE)",
                file=needed.source,
                line=needed.field_lines.get("inputs"),
                field="template.inputs",
            )
    if replay:
        default_model = f"replay:{Path(replay).expanduser().resolve()}"
        overrides = {}
    _known_agents(overrides, list(core.agents))
    for agent in agents:
        for spec in parse_model_chain(
            overrides.get(agent) or default_model, option=f"model of agent '{agent}'"
        ):
            check_provider(spec)
    request = RunRequest(
        task=task.strip() or label,
        workflow=key if workflow else None,
        template=key if template else None,
        bmad_roots=core.roots,
        default_model=default_model,
        agent_models=overrides,
        variables=variables,
    )
    return request, label


async def arun(task: str, **kwargs: Any) -> Run:
    """Like :func:`run`, awaiting the run's end without blocking the caller's event loop."""
    import asyncio

    handle = run(task, **kwargs)
    future = handle._executor.future(handle.id) if handle._executor else None
    if future is not None:
        await asyncio.wrap_future(future)
    return handle


def resume(ref: str) -> Run:
    """Resume a workflow run that crashed or failed, at the first step it did not finish.

    The steps it finished stay done (their documents come from the run's checkpoint).
    """
    global _last_run
    store = _store()
    record = store.get_run(ref)
    if record.status == "completed":
        raise ConfigError(f"run {record.short_id} already completed")
    if not record.spec.get("workflow"):
        raise ConfigError("only workflow runs resume at a step (team runs start over)")
    local = _executor()
    future = local.future(record.id)
    if future is not None and not future.done():
        raise ConfigError(f"run {record.short_id} is still running in this kernel")
    store.update_run(record.id, status="queued", finished_at=None, error=None, stop_reason=None)
    local.submit(record.id, store)
    _last_run = Run(record.id, store, local)
    return _last_run


def last_run() -> Run:
    if _last_run is None:
        raise RunError("no run was started in this process yet")
    return _last_run


def get_run(ref: str) -> Run:
    """A run by id, id prefix or name, from any process that shares the database."""
    store = _store()
    record = store.get_run(ref)
    return Run(record.id, store, _executor())


def _resolve_ids(run_ids: Sequence[str] | str | None) -> list[str] | None:
    if run_ids is None:
        return None
    if isinstance(run_ids, str):
        run_ids = [run_ids]
    store = _store()
    return [store.get_run(r).id for r in run_ids]


def _filter(frame: pd.DataFrame, filters: Mapping[str, Any]) -> pd.DataFrame:
    for column, value in filters.items():
        if column not in frame.columns:
            raise ConfigError(f"cannot filter on '{column}'; columns: {', '.join(frame.columns)}")
        if isinstance(value, list | tuple | set):
            frame = frame[frame[column].isin(list(value))]
        else:
            frame = frame[frame[column] == value]
    return frame.reset_index(drop=True)


def runs(**filters: Any) -> pd.DataFrame:
    """All runs as a DataFrame (filter by any column, e.g. ``status="completed"``)."""
    from botarmy_nb.store.frames import runs_frame

    return _filter(runs_frame(_store()), filters)


def messages(run_ids: Sequence[str] | str | None = None, **filters: Any) -> pd.DataFrame:
    """Messages of all (or the given) runs: one row per message event, in order."""
    from botarmy_nb.store.frames import messages_frame

    return _filter(messages_frame(_store(), _resolve_ids(run_ids)), filters)


def model_calls(run_ids: Sequence[str] | str | None = None, **filters: Any) -> pd.DataFrame:
    from botarmy_nb.store.frames import model_calls_frame

    return _filter(model_calls_frame(_store(), _resolve_ids(run_ids)), filters)


def artifacts(run_ids: Sequence[str] | str | None = None, **filters: Any) -> pd.DataFrame:
    from botarmy_nb.store.frames import artifacts_frame

    return _filter(artifacts_frame(_store(), _resolve_ids(run_ids)), filters)
