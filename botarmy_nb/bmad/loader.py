"""Load BMAD-compatible cores (v4 layout) into validated models, errors with file and line.

A core folder holds ``agents/*.md`` (markdown around one YAML block), ``agent-teams/``,
``workflows/`` and ``templates/`` (YAML), and ``tasks/``, ``checklists/``, ``data/``,
``utils/`` (markdown). Upstream v4 keeps shared tasks in a sibling ``common/`` folder: it
is a fallback for every resource kind. Folders on ``BOTARMY_BMAD_PATH`` come first and
win by name over the bundled core.
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
    WorkflowStep,
)
from botarmy_nb.bmad.parse import parse_agent, parse_team, parse_template, parse_workflow
from botarmy_nb.errors import ConfigError, SpecError, did_you_mean

__all__ = ["bmad_search_path", "bundled_core_dir", "load_bmad"]

RESOURCE_KINDS = ("tasks", "checklists", "data", "utils")


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
    folders = [Path(p).expanduser() for p in extra.split(os.pathsep) if p.strip()]
    return [*folders, bundled_core_dir()]


# -- loading and cross-references --------------------------------------------------------


def _files(folder: Path, pattern: str) -> list[Path]:
    return sorted(folder.glob(pattern)) if folder.is_dir() else []


def _load_root(root: Path, core: BmadCore) -> None:
    """Add one core folder to ``core``; names already present (earlier roots) win."""
    if not (root / "agents").is_dir():
        raise ConfigError(f"{root} is not a BMAD-compatible core: it has no agents/ folder")
    core.roots.append(str(root))
    for path in _files(root / "agents", "*.md"):
        core.agents.setdefault(path.stem, parse_agent(path))
    for path in _files(root / "agent-teams", "*.y*ml"):
        core.teams.setdefault(path.stem, parse_team(path))
    for path in _files(root / "workflows", "*.y*ml"):
        core.workflows.setdefault(path.stem, parse_workflow(path))
    for path in _files(root / "templates", "*.y*ml"):
        core.templates.setdefault(path.stem, parse_template(path))
    structured = {"agents", "agent-teams", "workflows", "templates"}
    common = root.parent / "common"  # upstream keeps shared tasks and utils there
    kinds = {
        p.name
        for base in (root, common)
        if base.is_dir()
        for p in base.iterdir()
        if p.is_dir() and p.name not in structured
    }
    for kind in sorted(kinds | set(RESOURCE_KINDS)):
        found = core.resources.setdefault(kind, {})
        for folder in (root / kind, common / kind):
            for path in _files(folder, "*.*"):
                found.setdefault(path.name, str(path))


def _fail(source: str, line: int | None, field: str, message: str) -> SpecError:
    return SpecError(message, file=source, line=line, field=field)


def _validate(core: BmadCore) -> None:
    agents = set(core.agents)
    for agent in core.agents.values():
        for kind, names in agent.dependencies.items():
            for name in names:
                if kind == "templates":
                    known: Mapping[str, Any] = core.templates
                    ok = core.template(name) is not None
                elif kind == "workflows":
                    known = core.workflows
                    ok = Path(name).stem in core.workflows
                else:
                    known = core.resources.get(kind, {})
                    ok = name in known
                if not ok:
                    line = agent.field_lines.get(f"{kind}.{name}") or agent.line
                    raise _fail(
                        agent.source,
                        line,
                        f"dependencies.{kind}",
                        f"agent '{agent.id}' depends on {kind[:-1]} '{name}', which "
                        "does not exist" + did_you_mean(name, known),
                    )
    for team in core.teams.values():
        for name in team.agents:
            if name != "*" and name not in agents:
                raise _fail(
                    team.source,
                    team.line,
                    "agents",
                    f"team '{team.id}' names unknown agent '{name}'" + did_you_mean(name, agents),
                )
        for name in team.workflows:
            stem = Path(name).stem
            if stem not in core.workflows:
                raise _fail(
                    team.source,
                    team.line,
                    "workflows",
                    f"team '{team.id}' names unknown workflow '{name}'"
                    + did_you_mean(stem, core.workflows),
                )
    for workflow in core.workflows.values():
        _validate_workflow(core, workflow, agents)
    for template in core.templates.values():
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


def _validate_workflow(core: BmadCore, workflow: BmadWorkflow, agents: set[str]) -> None:
    made: set[str] = set()
    created_at = {s.creates: s for s in workflow.steps if s.creates}
    for step in workflow.steps:
        where = f"sequence.{step.index}"

        def fail(
            key: str, message: str, step: WorkflowStep = step, where: str = where
        ) -> SpecError:
            line = step.field_lines.get(key.split(".")[0]) or step.line
            return _fail(workflow.source, line, f"{where}.{key}", message)

        for name in step.agents:
            if name not in agents:
                raise fail("agent", f"unknown agent '{name}'" + did_you_mean(name, agents))
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
            if name.endswith("-tmpl") and core.template(name) is None:
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


def load_bmad(path: str | Path | list[str | Path] | None = None) -> BmadCore:
    """Load and validate BMAD-compatible cores.

    ``path``: one core folder, a list of them (first wins by name), or None for the search
    path (``BOTARMY_BMAD_PATH`` then the bundled core). Errors name file, line and field.

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
    key = tuple((str(root), _stamp(root)) for root in roots)
    core = _LOADED.get(key)
    if core is None:  # parsing a core takes 0.1-0.3 s; a run and its checks ask twice
        core = BmadCore()
        for root in roots:
            _load_root(root, core)
        _validate(core)
        _LOADED.clear()
        _LOADED[key] = core
    return core.model_copy(deep=True)  # callers may change what they get


_LOADED: dict[tuple[tuple[str, tuple[tuple[str, int, int], ...]], ...], BmadCore] = {}


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
