"""What a workflow or template run will need, checked before it starts.

The same template resolution the engine uses decides which templates a run drafts, so a
run that needs a file that did not load is refused at once, naming that file, while runs
of the same core that do not need it go ahead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from botarmy_nb.bmad.models import BmadCore, BmadTemplate
from botarmy_nb.bmad.resolve import resolve_template
from botarmy_nb.errors import NotFoundError, SpecError, did_you_mean

__all__ = ["RunPlan", "plan_run"]


@dataclass
class RunPlan:
    """The templates a run drafts and the agents it asks, by name."""

    key: str  # the workflow id or template stem
    what: str  # "workflow 'x'" / "template 'y'", for messages
    templates: list[BmadTemplate] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # shown again on the step events


def _refused(core: BmadCore, kind: str, name: str, what: str) -> SpecError | None:
    """The error that refuses a run because ``name`` did not load (file and line of the
    broken file), or None if it loaded."""
    problem = core.problem_for(kind, name)
    if problem is None:
        return None
    return SpecError(
        f"{what} cannot run: {kind[:-1]} '{name}' did not load: {problem.reason}",
        file=problem.file,
        line=problem.line,
    )


def plan_run(
    core: BmadCore,
    *,
    workflow: str | None = None,
    template: str | None = None,
    variables: dict[str, Any] | None = None,
) -> RunPlan:
    """Check a workflow (and its ``sequence``) or a template against ``core``: unknown
    names and broken files it depends on raise ConfigError/NotFoundError."""
    variables = variables or {}
    if workflow is not None:
        key = PurePosixPath(workflow).stem if workflow not in core.workflows else workflow
        if key not in core.workflows:
            error = _refused(core, "workflows", key, f"workflow '{key}'")
            if error is not None:
                raise error
            raise NotFoundError(
                f"unknown workflow '{workflow}'" + did_you_mean(key, core.workflows)
            )
        flow = core.workflows[key]
        plan = RunPlan(key=key, what=f"workflow '{key}'")
        steps = flow.sequence(variables.get("sequence"))
        agents: set[str] = {"po", "pm", "analyst"} & set(core.agents)
        for step in steps:
            agents |= set(step.agents)
            found = resolve_template(core, step, step.agents or ["po"], flow.type)
            if found.broken is not None:
                raise SpecError(
                    f"{plan.what} cannot run: step {step.index + 1} ({step.label}) needs "
                    f"template '{found.broken.name}', which did not load: "
                    f"{found.broken.reason}",
                    file=found.broken.file,
                    line=found.broken.line,
                )
            if found.template is not None:
                plan.templates.append(found.template)
            if found.warning:
                plan.warnings.append(f"step {step.index + 1}: {found.warning}")
            for target in (step.routes or {}).values():
                if not isinstance(target, dict):
                    continue
                if target.get("agent") in core.agents:
                    agents.add(str(target["agent"]))
                uses = str(target.get("uses") or "")
                error = _refused(core, "templates", uses, plan.what) if uses else None
                if error is not None:
                    raise error
                if uses and core.template(uses) is not None:
                    plan.templates.append(core.template(uses))  # type: ignore[arg-type]
        for name in sorted(agents):
            error = _refused(core, "agents", name, plan.what)
            if error is not None and name not in core.agents:
                raise error
        plan.agents = sorted(a for a in agents if a in core.agents)
        return plan
    found_template = core.template(str(template))
    if found_template is None:
        error = _refused(core, "templates", str(template), f"template '{template}'")
        if error is not None:
            raise error
        raise NotFoundError(
            f"unknown template '{template}'" + did_you_mean(str(template), core.templates)
        )
    owners = {
        core.agent_for_owner(s.owner)
        for top in found_template.sections
        for s in top.walk()
        if core.agent_for_owner(s.owner)
    }
    return RunPlan(
        key=found_template.file_stem,
        what=f"template '{found_template.file_stem}'",
        templates=[found_template],
        agents=sorted({a for a in owners if a} | ({"pm", "analyst"} & set(core.agents))),
    )
