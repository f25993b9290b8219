"""Load BMAD-compatible cores (v4 layout) and expansion packs into validated models.

A core folder holds ``agents/*.md`` (markdown around one YAML block), ``agent-teams/``,
``workflows/`` and ``templates/`` (YAML), and ``tasks/``, ``checklists/``, ``data/``,
``utils/`` (markdown). Upstream v4 keeps shared tasks in a sibling ``common/`` folder: it
is a fallback for every resource kind. An expansion pack has the same layout and loads
beside a core (``load_bmad([core, pack])``). Folders on ``BOTARMY_BMAD_PATH`` come first
and win by name over the bundled core.

Loading is lenient: a file that does not parse, or refers to something that does not
exist, is listed in ``core.problems`` (file, line, reason) and left out; everything else
loads. Only what depends on a left-out file is refused later, naming it. ``strict=True``
raises on the first problem instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from botarmy_nb.bmad.conditions import ConditionSyntaxError, parse_condition
from botarmy_nb.bmad.models import (
    BmadCore,
    BmadWorkflow,
    Problem,
    WorkflowStep,
)
from botarmy_nb.bmad.parse import parse_agent, parse_team, parse_template, parse_workflow
from botarmy_nb.errors import ConfigError, SpecError, did_you_mean

__all__ = ["bmad_search_path", "bundled_core_dir", "load_bmad"]

RESOURCE_KINDS = ("tasks", "checklists", "data", "utils")
_SINGULAR = {"data": "data file", "utils": "util", "tasks": "task", "checklists": "checklist"}
_SINGULAR |= {"templates": "template", "workflows": "workflow"}


def bundled_core_dir() -> Path:
    """Our own core: inside the wheel, or at the repository root when editable."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_bmad_core", package.parent / "bmad-core"):
        if (candidate / "agents").is_dir():
            return candidate
    raise ConfigError("botarmy-nb is installed without its bundled bmad-core folder")


def bmad_search_path() -> list[Path]:
    """BOTARMY_BMAD_PATH folders (os.pathsep-separated), then the bundled core."""
    from botarmy_nb.settings import get_settings

    extra = get_settings().bmad_path or ""
    folders = []
    for part in (p for p in extra.split(os.pathsep) if p.strip()):
        try:
            folders.append(Path(part).expanduser())
        except RuntimeError:  # "~someone" who has no home here
            raise ConfigError(
                f"BOTARMY_BMAD_PATH: {part!r} names a home folder that does not exist here"
            ) from None
    return [*folders, bundled_core_dir()]


# -- loading and cross-references --------------------------------------------------------


def _files(folder: Path, pattern: str) -> list[Path]:
    return sorted(folder.glob(pattern)) if folder.is_dir() else []


class _Collector:
    """Where problems go: into ``core.problems``, or raised at once in strict mode."""

    def __init__(self, core: BmadCore, strict: bool) -> None:
        self.core, self.strict = core, strict

    def add(self, kind: str, name: str, error: ConfigError, file: str = "") -> None:
        if self.strict:
            raise error
        line = error.line if isinstance(error, SpecError) else None
        source = (error.file if isinstance(error, SpecError) else None) or file
        reason = _message(error)
        self.core.problems.append(
            Problem(file=source, line=line, reason=reason, kind=kind, name=name)
        )


def _message(error: ConfigError) -> str:
    """The reason alone: a SpecError's text starts with its file, line and field."""
    text = str(error)
    if isinstance(error, SpecError):
        where = error.file or "<spec>"
        if error.line is not None:
            where += f", line {error.line}"
        if error.field:
            where += f", field '{error.field}'"
        text = text.removeprefix(f"{where}: ")
        if error.field:
            text = f"{error.field}: {text}"
    return text


def _parsed(kind: str, path: Path, parse: Any, problems: _Collector) -> Any:
    try:
        return parse(path)
    except ConfigError as exc:
        problems.add(kind, path.stem, exc, file=str(path))
        return None


def _load_root(root: Path, core: BmadCore, problems: _Collector) -> None:
    """Add one core folder to ``core``; names already present (earlier roots) win."""
    if not (root / "agents").is_dir():
        raise ConfigError(f"{root} is not a BMAD-compatible core: it has no agents/ folder")
    core.roots.append(str(root))
    kinds = (
        ("agents", "*.md", parse_agent, core.agents),
        ("agent-teams", "*.y*ml", parse_team, core.teams),
        ("workflows", "*.y*ml", parse_workflow, core.workflows),
        ("templates", "*.y*ml", parse_template, core.templates),
    )
    for kind, pattern, parse, found in kinds:
        for path in _files(root / kind, pattern):
            if path.stem in found or core.problem_for(kind, path.stem):
                continue  # an earlier root has it (or had a broken one): first wins
            item = _parsed(kind, path, parse, problems)
            if item is not None:
                found[path.stem] = item
    for path in _files(root / "workflows", "*.md"):
        if path.stem not in core.workflows:
            problems.add(
                "workflows",
                path.stem,
                SpecError(
                    "unsupported workflow format: Markdown (only YAML workflows with "
                    "'sequence', '*_sequence', 'steps' or 'phases' run)",
                    file=str(path),
                    line=1,
                ),
            )
    structured = {"agents", "agent-teams", "workflows", "templates"}
    common = root.parent / "common"  # upstream keeps shared tasks and utils there
    kinds_found = {
        p.name
        for base in (root, common)
        if base.is_dir()
        for p in base.iterdir()
        if p.is_dir() and p.name not in structured
    }
    for kind in sorted(kinds_found | set(RESOURCE_KINDS)):
        resources = core.resources.setdefault(kind, {})
        for folder in (root / kind, common / kind):
            for path in _files(folder, "*.*"):
                resources.setdefault(path.name, str(path))


def _fail(source: str, line: int | None, field: str, message: str) -> SpecError:
    return SpecError(message, file=source, line=line, field=field)


def _validate(core: BmadCore, problems: _Collector) -> None:
    agents = set(core.agents)
    for agent in list(core.agents.values()):
        for kind, names in agent.dependencies.items():
            for name in names:
                if kind == "templates":
                    known: Mapping[str, Any] = core.templates
                    ok = core.template(name) is not None
                elif kind == "workflows":
                    known = core.workflows
                    ok = Path(name).stem in core.workflows
                else:  # packs often leave out the extension: "critical-review"
                    known = core.resources.get(kind, {})
                    ok = name in known or f"{name}.md" in known
                if ok or core.problem_for(kind, name):
                    continue  # a broken file is listed once, where it is
                line = agent.field_lines.get(f"{kind}.{name}") or agent.line
                problems.add(
                    "agents",
                    agent.id,
                    _fail(
                        agent.source,
                        line,
                        f"dependencies.{kind}",
                        f"agent '{agent.id}' depends on {_SINGULAR.get(kind, kind)} "
                        f"'{name}', which does not exist" + did_you_mean(name, known),
                    ),
                )  # the agent still loads: only a step that needs the file is refused
    for key, team in list(core.teams.items()):
        try:
            _validate_team(core, team, agents)
        except SpecError as exc:
            problems.add("agent-teams", key, exc)
            del core.teams[key]
    for key, workflow in list(core.workflows.items()):
        try:
            for steps in workflow.sequences.values() or [workflow.steps]:
                _validate_workflow(core, workflow, agents, steps)
        except SpecError as exc:
            problems.add("workflows", key, exc)
            del core.workflows[key]
    for key, template in list(core.templates.items()):
        try:
            _validate_template(template)
        except SpecError as exc:
            problems.add("templates", key, exc)
            del core.templates[key]


def _validate_team(core: BmadCore, team: Any, agents: set[str]) -> None:
    for name in team.agents:
        if name != "*" and name not in agents:
            raise _fail(
                team.source,
                team.line,
                "agents",
                f"team '{team.id}' names unknown agent '{name}'"
                + (
                    f" ({core.problem_for('agents', name)})"
                    if core.problem_for("agents", name)
                    else did_you_mean(name, agents)
                ),
            )
    for name in team.workflows:
        stem = Path(name).stem
        if stem not in core.workflows and not core.problem_for("workflows", stem):
            raise _fail(
                team.source,
                team.line,
                "workflows",
                f"team '{team.id}' names unknown workflow '{name}'"
                + did_you_mean(stem, core.workflows),
            )


def _validate_template(template: Any) -> None:
    for top in template.sections:
        for section in top.walk():
            if not section.condition:
                continue
            try:
                parse_condition(section.condition)
            except ConditionSyntaxError as exc:
                raise _fail(
                    template.source,
                    section.field_lines.get("condition") or section.line,
                    f"sections.{section.id or section.title}.condition",
                    str(exc),
                ) from None


def _validate_workflow(
    core: BmadCore, workflow: BmadWorkflow, agents: set[str], steps: list[WorkflowStep]
) -> None:
    made: set[str] = set()
    created_at = {s.creates: s for s in steps if s.creates}
    for step in steps:
        where = f"sequence.{step.index}"

        def fail(
            key: str, message: str, step: WorkflowStep = step, where: str = where
        ) -> SpecError:
            line = step.field_lines.get(key.split(".")[0]) or step.line
            return _fail(workflow.source, line, f"{where}.{key}", message)

        for name in step.agents:
            if name not in agents:
                broken = core.problem_for("agents", name)
                raise fail(
                    "agent",
                    f"unknown agent '{name}'"
                    + (f" (its file did not load: {broken})" if broken else "")
                    + ("" if broken else did_you_mean(name, agents)),
                )
        uses = [("uses", step.uses)] if step.uses else []
        for route, target in (step.routes or {}).items():
            target = target if isinstance(target, dict) else {}
            agent = target.get("agent")
            if agent and agent not in agents and agent != "various":
                raise fail(
                    f"routes.{route}",
                    f"route '{route}' names unknown agent '{agent}'"
                    + did_you_mean(str(agent), agents),
                )
            if target.get("uses"):
                uses.append((f"routes.{route}.uses", str(target["uses"])))
        for needed in step.requires:
            if needed in made:
                continue
            later = created_at.get(needed)
            if later is not None:
                raise fail(
                    "requires",
                    f"requires '{needed}', which only a later step creates "
                    f"(step {later.index + 1}, line {later.line}): a cycle or a "
                    "wrong order",
                )
            if "." in needed:  # a document no step creates (symbolic inputs may come in)
                raise fail(
                    "requires",
                    f"requires '{needed}', which no earlier step creates"
                    + did_you_mean(needed, made),
                )
        for key, name in uses:
            stem = Path(name).name.removesuffix(".yaml").removesuffix(".yml")
            if stem.endswith("-tmpl") and core.problem_for("templates", stem):
                continue  # refused when a run needs it, naming the broken file
            if stem.endswith("-tmpl") and core.template(name) is None:
                raise fail(
                    key,
                    f"uses template '{name}', which does not exist"
                    + did_you_mean(name, core.templates),
                )
        if step.condition:
            try:
                parse_condition(step.condition)
            except ConditionSyntaxError as exc:
                raise fail("condition", str(exc)) from None
        if step.creates:
            made.add(step.creates)
        if step.updates:
            made.add(step.updates.split(" ")[0])


def load_bmad(
    path: str | Path | list[str | Path] | None = None, *, strict: bool = False
) -> BmadCore:
    """Load and validate BMAD-compatible cores and expansion packs.

    ``path``: one core folder, a list of them (core and packs; first wins by name), or
    None for the search path (``BOTARMY_BMAD_PATH`` then the bundled core). What does not
    load is listed in ``core.problems`` with file, line and reason; ``strict=True`` raises
    the first problem (a SpecError naming file, line and field) instead.

    >>> core = load_bmad()  # doctest: +SKIP
    >>> core.workflows["greenfield-service"].artifacts  # doctest: +SKIP
    """
    if path is None:
        roots = bmad_search_path()
    elif isinstance(path, list):
        roots = [Path(p) for p in path]
    else:
        roots = [Path(path)]
    for i, root in enumerate(roots):
        try:
            roots[i] = root.expanduser()
            found = roots[i].is_dir()
        except (OSError, ValueError, RuntimeError):  # NUL, too long, ~nobody
            found = False
        if not found:
            raise ConfigError(f"BMAD folder {root} does not exist")
    key = (strict, tuple((str(root), _stamp(root)) for root in roots))
    core = _LOADED.get(key)
    if core is None:  # parsing a core takes 0.1-0.3 s; a run and its checks ask twice
        core = BmadCore()
        problems = _Collector(core, strict)
        for root in roots:
            _load_root(root, core, problems)
        _validate(core, problems)
        if len(_LOADED) >= 8:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = core
    return core.model_copy(deep=True)  # callers may change what they get


_LOADED: dict[tuple[Any, ...], BmadCore] = {}


def _stamp(root: Path) -> tuple[tuple[str, int, int], ...]:
    """Every file of a core (and its common/ sibling) with its modification time and size."""
    files = [
        p
        for base in (root, root.parent / "common")
        if base.is_dir()
        for p in base.rglob("*")
        if p.is_file()
    ]
    stats = ((str(p), p.stat()) for p in files)
    return tuple(sorted((name, st.st_mtime_ns, st.st_size) for name, st in stats))
