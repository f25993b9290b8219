"""Sweeps: one run per point of a grid of options and variables (times ``repeats``),
submitted with bounded concurrency, recorded in the runs' tags so that any kernel can
find the sweep again (``ba.get_sweep(id)``), and compared in one results frame.

A sweep is not a table of its own: every run carries the tags ``sweep`` (the sweep's id),
``sweep.point``, ``sweep.repeat`` and ``sweep.<key>`` for each grid key; the first run
also carries ``sweep.spec``, the sweep's definition as JSON, from which the missing
points of an interrupted sweep are rebuilt.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import json
import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botarmy_nb.errors import ConfigError, NotFoundError, RunTimeoutError

if TYPE_CHECKING:
    import pandas as pd

    from botarmy_nb.api import PreparedRun
    from botarmy_nb.handle import Run

__all__ = ["OPTION_KEYS", "Sweep", "get_sweep", "sweep"]

# grid keys that are options of ba.run; any other key must be a variable the target uses
OPTION_KEYS = ("model", "team", "workflow", "template", "max_turns")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}")
_SPEC_OPTIONS = ("team", "workflow", "template", "model", "max_turns", "executor", "variables")
_TERMINAL = ("completed", "failed", "cancelled", "lost")


@dataclass(frozen=True)
class _Point:
    index: int  # position in the expanded plan (grid order, repeats innermost)
    repeat: int
    values: dict[str, Any]


def _expand(grid: Mapping[str, Sequence[Any]], repeats: int) -> list[_Point]:
    keys = list(grid)
    points = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        for repeat in range(1, repeats + 1):
            points.append(_Point(len(points), repeat, dict(zip(keys, combo, strict=True))))
    return points


def _check_grid(grid: Mapping[str, Any], repeats: int) -> dict[str, list[Any]]:
    if not isinstance(grid, Mapping) or not grid:
        raise ConfigError("grid= needs at least one key, e.g. grid={'model': ['scripted']}")
    if not isinstance(repeats, int) or repeats < 1:
        raise ConfigError(f"repeats must be a whole number ≥ 1, not {repeats!r}")
    checked: dict[str, list[Any]] = {}
    for key, values in grid.items():
        if isinstance(values, str) or not isinstance(values, Sequence) or not values:
            raise ConfigError(f"grid['{key}'] must be a non-empty list of values")
        for value in values:
            if not isinstance(value, str | int | float | bool):
                raise ConfigError(f"grid['{key}'] holds {value!r}: use strings or numbers")
        checked[str(key)] = list(values)
    return checked


def _used_variables(
    task: str, options: Mapping[str, Any], grid: Mapping[str, list[Any]]
) -> set[str]:
    """The variables a sweep's runs can use: placeholders of the task and of the teams'
    instructions, and the variables and inputs of the workflows' and templates' documents."""
    from botarmy_nb.specs.catalog import find_team

    used = set(_PLACEHOLDER.findall(task))
    teams = grid.get("team") or [options.get("team")]
    workflows = grid.get("workflow") or [options.get("workflow")]
    templates = grid.get("template") or [options.get("template")]
    if any(workflows) or any(templates):
        from botarmy_nb.bmad.loader import load_bmad
        from botarmy_nb.engine.workflow import REPEAT_VARIABLES

        core = load_bmad()
        found = []
        for name in filter(None, workflows):
            flow = core.workflows.get(str(name).removesuffix(".yaml"))
            for step in flow.steps if flow else []:
                found.append(
                    (core.template(step.uses) if step.uses else None)
                    or (core.template_for(step.creates) if step.creates else None)
                )
        found += [core.template(str(name)) for name in filter(None, templates)]
        for template in filter(None, found):
            used |= set(template.variables) | {i.name for i in template.inputs}
        used |= set(REPEAT_VARIABLES)
    if not (any(workflows) or any(templates)) or any(teams):
        for name in teams:
            try:
                spec = find_team(name)
            except ConfigError:
                continue  # an unknown team is reported by prepare() with its own message
            for agent in spec.agents:
                used |= set(_PLACEHOLDER.findall(agent.system_message))
    return used


def _check_keys(task: str, options: Mapping[str, Any], grid: Mapping[str, list[Any]]) -> None:
    from botarmy_nb.errors import did_you_mean

    variables = set(options.get("variables") or {})
    candidates = [k for k in grid if k not in OPTION_KEYS]
    if not candidates:
        return
    used = _used_variables(task, options, grid)
    for key in candidates:
        if key in variables:
            raise ConfigError(f"'{key}' is both in grid= and in variables=: give it once")
        if key not in used:
            known = sorted(set(OPTION_KEYS) | used)
            raise ConfigError(
                f"grid variable '{key}' is not an option (model, team, workflow, template, "
                f"max_turns) and nothing in this sweep uses it" + did_you_mean(key, known)
            )


def _spec_json(
    task: str, grid: Mapping[str, list[Any]], repeats: int, options: Mapping[str, Any], name: str
) -> str:
    spec = {
        "task": task,
        "grid": [[key, values] for key, values in grid.items()],  # keeps the user's order
        "repeats": repeats,
        "name": name,
        "options": {k: options[k] for k in _SPEC_OPTIONS if options.get(k) is not None},
    }
    try:
        return json.dumps(spec, sort_keys=True)
    except TypeError as exc:
        raise ConfigError(f"sweep options must be plain values ({exc})") from None


class Sweep:
    """A grid of runs: ``.results`` (one row per run), ``.wait()``, ``.progress()``,
    ``.resume()`` (submit what an interrupted sweep never started), ``.cancel()``."""

    def __init__(self, sweep_id: str, spec: dict[str, Any]) -> None:
        self.id = sweep_id
        self.spec = spec
        self.name: str = spec.get("name") or f"sweep-{sweep_id[:6]}"
        self.grid: dict[str, list[Any]] = {str(k): list(v) for k, v in spec["grid"]}
        self.repeats: int = spec["repeats"]
        self.points = _expand(self.grid, self.repeats)
        self._futures: list[concurrent.futures.Future[Any]] = []
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._listeners: list[Callable[[Sweep], None]] = []
        self._lock = threading.Lock()
        self._errors: list[BaseException] = []
        self.finished = 0  # runs of this process's submissions that ended

    def __repr__(self) -> str:
        return f"<Sweep {self.name} id={self.id} runs={len(self.points)}>"

    # -- state from the store --------------------------------------------------------------

    def _runs_frame(self) -> pd.DataFrame:
        from botarmy_nb.data import runs

        return runs(tags={"sweep": self.id})

    @property
    def counts(self) -> dict[str, int]:
        """How many runs are in each status, plus ``not started``."""
        frame = self._runs_frame()
        counts = {str(k): int(v) for k, v in frame["status"].astype("str").value_counts().items()}
        missing = len(self.points) - len(frame)
        if missing:
            counts["not started"] = missing
        return counts

    @property
    def done(self) -> bool:
        counts = self.counts
        return sum(counts.get(s, 0) for s in _TERMINAL) == len(self.points)

    @property
    def runs(self) -> list[Run]:
        from botarmy_nb.handle import Run
        from botarmy_nb.store.base import open_store

        store = open_store()
        return [Run(i, store) for i in self._runs_frame()["id"]]

    def missing(self) -> list[dict[str, Any]]:
        """The grid points (with their repeat) that have no run yet."""
        started = {int(t.get("sweep.point", -1)) for t in self._runs_frame()["tags"]}
        return [{**p.values, "repeat": p.repeat} for p in self.points if p.index not in started]

    @property
    def results(self) -> pd.DataFrame:
        """One row per run: its grid values, status, duration, tokens, cost (``<NA>`` when
        any call's is unknown), errors, retries, fallbacks and artifact names (open one
        with ``ba.get_run(run_id).artifact(name)``)."""
        import pandas as pd

        from botarmy_nb.analysis.summary import summarize
        from botarmy_nb.data import artifacts, model_calls

        frame = self._runs_frame()
        values = {p.index: p for p in self.points}
        rows = []
        for r in frame.itertuples(index=False):
            point = values.get(int(r.tags.get("sweep.point", -1)))
            rows.append(
                {
                    "run_id": r.id,
                    "run_name": r.name,
                    "point": point.index if point else pd.NA,
                    "repeat": point.repeat if point else pd.NA,
                    **(point.values if point else {}),
                    "status": r.status,
                    "duration_s": r.duration_s,
                }
            )
        keys = list(self.grid)
        columns = ["run_id", "run_name", "point", "repeat", *keys, "status", "duration_s"]
        out = pd.DataFrame(rows, columns=columns)
        calls = model_calls(tags={"sweep": self.id})
        if len(calls):
            per_run = summarize(calls, by="run_id")
        else:
            per_run = pd.DataFrame({"run_id": pd.Series([], dtype="str")})
        wanted = [
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "cost_usd",
            "requests",
            "errors",
            "retries",
            "fallbacks",
        ]
        for column in wanted:
            if column not in per_run:
                per_run[column] = pd.Series(
                    [], dtype="Int64" if column != "cost_usd" else "float64"
                )
        out = out.merge(per_run[["run_id", *wanted]], on="run_id", how="left")
        for column in ("requests", "errors", "retries", "fallbacks"):
            out[column] = out[column].fillna(0).astype("Int64")
        docs = artifacts(tags={"sweep": self.id})
        names = docs.groupby("run_id", observed=True)["name"].agg(lambda s: list(dict.fromkeys(s)))
        out["artifacts"] = out["run_id"].map(names).map(lambda v: v if isinstance(v, list) else [])
        out["status"] = out["status"].astype("category")
        for column in ("point", "repeat"):
            out[column] = out[column].astype("Int64")
        return out.sort_values("point", kind="stable").reset_index(drop=True)

    # -- running ----------------------------------------------------------------------------

    def _launch(self, prepared: list[tuple[_Point, PreparedRun]], max_concurrency: int) -> None:
        from botarmy_nb import api

        if max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be at least 1, not {max_concurrency}")
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_concurrency, thread_name_prefix=f"botarmy-sweep-{self.id[:6]}"
        )

        def one(item: PreparedRun) -> None:
            try:
                api.submit(item).wait()
            except BaseException as exc:  # recorded: .wait() raises the first one
                with self._lock:
                    self._errors.append(exc)
            finally:
                with self._lock:
                    self.finished += 1
                self._notify()

        self._futures = [self._pool.submit(one, p) for _, p in prepared]
        self._pool.shutdown(wait=False)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            try:
                listener(self)
            except Exception:  # a broken display must not stop the sweep
                self._listeners.remove(listener)

    def subscribe(self, listener: Callable[[Sweep], None]) -> None:
        """Call ``listener(sweep)`` after each run of this process's submissions ends."""
        self._listeners.append(listener)

    def wait(self, timeout: float | None = None) -> Sweep:
        """Block until every run of the sweep ended (runs of this kernel, or followed in
        the store when another process submitted them). Raises the first submission error."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        if self._futures:
            concurrent.futures.wait(self._futures, timeout=timeout)
        delay = 0.05
        while not self.done:
            if self._futures and all(f.done() for f in self._futures) and self._errors:
                break
            if deadline is not None and time.monotonic() > deadline:
                raise RunTimeoutError(f"sweep {self.id} still running after {timeout} s")
            if self._futures and all(f.done() for f in self._futures) and self.missing():
                break  # this process submitted all it could; the rest never started
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)
        if self._errors:
            raise self._errors[0]
        return self

    def progress(self) -> Sweep:
        """Show a progress bar in the notebook (updated as runs end)."""
        from botarmy_nb.analysis.progress import show_progress

        show_progress(self)
        return self

    def resume(self, *, max_concurrency: int = 4) -> Sweep:
        """Submit the points that have no run yet (a kernel restarted mid-sweep); runs
        found ``lost`` are resumed too."""
        from botarmy_nb import api

        started = {int(t.get("sweep.point", -1)) for t in self._runs_frame()["tags"]}
        todo = [p for p in self.points if p.index not in started]
        prepared = [(p, _prepare(self.id, self.spec, p, first=False)) for p in todo]
        for run in self._runs_frame().itertuples(index=False):
            if run.status == "lost":
                api.resume(run.id)
        self._launch(prepared, max_concurrency)
        return self

    def cancel(self) -> dict[str, int]:
        """Stop the sweep: runs not started are never submitted, running ones are cancelled."""
        for future in self._futures:
            future.cancel()
        for run in self.runs:
            if run.status in ("queued", "running"):
                run.cancel(grace_s=2)
        return self.counts

    # -- display ----------------------------------------------------------------------------

    def summary_text(self) -> str:
        counts = self.counts
        shown = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        keys = ", ".join(f"{k} × {len(v)}" for k, v in self.grid.items())
        return (
            f"botarmy sweep {self.name} · {len(self.points)} runs "
            f"({keys}, repeats {self.repeats}) · {shown}"
        )

    def _repr_html_(self) -> str:
        import html

        return f"<div class='botarmy-sweep'>{html.escape(self.summary_text())}</div>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.summary_text())


def _prepare(sweep_id: str, spec: Mapping[str, Any], point: _Point, *, first: bool) -> PreparedRun:
    from botarmy_nb import api

    options = dict(spec.get("options") or {})
    variables = dict(options.pop("variables", None) or {})
    for key, value in point.values.items():
        if key in OPTION_KEYS:
            options[key] = value
        else:
            variables[key] = str(value)
    if "max_turns" in options and options["max_turns"] is not None:
        options["max_turns"] = int(options["max_turns"])
    tags = {
        "sweep": sweep_id,
        "sweep.point": str(point.index),
        "sweep.repeat": str(point.repeat),
        **{f"sweep.{k}": str(v) for k, v in point.values.items()},
    }
    if first:
        tags["sweep.spec"] = json.dumps(spec, sort_keys=True)
    name = f"{spec.get('name') or 'sweep'}-{point.index + 1}"
    return api.prepare(spec["task"], variables=variables, name=name, tags=tags, **options)


def sweep(
    task_or_workflow: str,
    grid: Mapping[str, Sequence[Any]],
    *,
    repeats: int = 1,
    executor: str | None = None,
    max_concurrency: int = 4,
    name: str | None = None,
    wait: bool = False,
    progress: bool = True,
    **options: Any,
) -> Sweep:
    """Run ``task_or_workflow`` once per point of ``grid`` (× ``repeats``).

    Grid keys are options of :func:`ba.run` (``model``, ``team``, ``workflow``,
    ``template``, ``max_turns``) or variables the task, team or documents use; an unknown
    key, and any invalid point, is refused before any run starts. Runs go to ``executor``
    with at most ``max_concurrency`` at a time; the call returns at once (``wait=True``
    blocks) with a progress bar in a notebook.

    >>> grid = {"model": ["scripted"], "project_name": ["A", "B"]}
    >>> s = ba.sweep("greenfield-service", grid=grid)  # doctest: +SKIP
    >>> s.wait().results.groupby("project_name")["total_tokens"].mean()  # doctest: +SKIP
    """
    from botarmy_nb.bmad.loader import load_bmad

    checked = _check_grid(grid, repeats)
    task = task_or_workflow
    if not any(options.get(k) for k in ("team", "workflow", "template")) and not any(
        k in checked for k in ("team", "workflow", "template")
    ):
        try:
            if task_or_workflow in load_bmad().workflows:
                options["workflow"] = task_or_workflow
        except ConfigError:
            pass
    if executor is not None:
        options["executor"] = executor
    unknown = sorted(set(options) - set(_SPEC_OPTIONS))
    if unknown:
        raise ConfigError(
            f"sweep() got unknown option '{unknown[0]}'; options: {', '.join(_SPEC_OPTIONS)}"
        )
    _check_keys(task, options, checked)
    sweep_id = uuid.uuid4().hex[:12]
    spec = json.loads(_spec_json(task, checked, repeats, options, name or ""))
    spec["name"] = name or f"sweep-{sweep_id[:6]}"
    result = Sweep(sweep_id, spec)
    # every point is validated (names, models, variables) before the first run starts
    prepared = [(p, _prepare(sweep_id, spec, p, first=p.index == 0)) for p in result.points]
    result._launch(prepared, max_concurrency)
    if progress:
        _maybe_progress(result)
    if wait:
        result.wait()
    return result


def _maybe_progress(result: Sweep) -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and getattr(shell, "kernel", None) is not None:
        result.progress()


def get_sweep(sweep_id: str) -> Sweep:
    """A sweep started in any kernel or process that shares this database."""
    from botarmy_nb.data import runs

    frame = runs(tags={"sweep": sweep_id})
    if frame.empty:
        raise NotFoundError(
            f"no sweep '{sweep_id}' in this database (its runs carry tags sweep=ID)"
        )
    for tags in frame["tags"]:
        if "sweep.spec" in tags:
            return Sweep(sweep_id, json.loads(tags["sweep.spec"]))
    raise NotFoundError(f"sweep '{sweep_id}' lost its definition (the run of its first point)")
