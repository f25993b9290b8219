"""What ``%botarmy teams``, ``workflows`` and ``templates`` show: the catalog as frames."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "core_problems",
    "teams_frame",
    "templates_frame",
    "workflow_steps_frame",
    "workflows_frame",
]


def core_problems() -> list[str]:
    """What in the BMAD search path did not load (file:line: reason), for the listings."""
    from botarmy_nb.bmad.loader import load_bmad

    return [str(problem) for problem in load_bmad().problems]


def teams_frame() -> pd.DataFrame:
    """Every team ``--team`` can name: type, agents, where it comes from."""
    import pandas as pd

    from botarmy_nb.specs.catalog import bundled_teams_dir, list_teams

    bundled = str(bundled_teams_dir())
    rows = [
        {
            "name": t.name,
            "type": t.type,
            "agents": ", ".join(t.agent_names),
            "source": "bundled" if (t.source or "").startswith(bundled) else t.source,
            "description": t.description,
        }
        for t in list_teams()
    ]
    return pd.DataFrame(rows, columns=["name", "type", "agents", "source", "description"])


def workflows_frame() -> pd.DataFrame:
    """The BMAD-compatible workflows: title, type, steps and what they create."""
    import pandas as pd

    from botarmy_nb.bmad.loader import load_bmad

    core = load_bmad()
    return pd.DataFrame(
        [
            {
                "name": key,
                "title": w.name,
                "type": w.type,
                "steps": len(w.steps),
                "creates": ", ".join(w.artifacts),
            }
            for key, w in sorted(core.workflows.items())
        ],
        columns=["name", "title", "type", "steps", "creates"],
    )


def workflow_steps_frame(name: str) -> tuple[pd.DataFrame, Any]:
    """One workflow's steps, and its flow diagram (None if it has none)."""
    import pandas as pd

    from botarmy_nb.bmad.loader import load_bmad
    from botarmy_nb.errors import NotFoundError, did_you_mean

    core = load_bmad()
    key = name.removesuffix(".yaml")
    if key not in core.workflows:
        raise NotFoundError(f"unknown workflow '{key}'" + did_you_mean(key, core.workflows))
    workflow = core.workflows[key]
    steps = pd.DataFrame(
        [
            {
                "step": s.index + 1,
                "agent": s.agent or "",
                "does": s.label,
                "requires": ", ".join(s.requires),
                "condition": s.condition or "",
                "optional": s.optional,
                "repeats": s.repeats or "",
            }
            for s in workflow.steps
        ]
    )
    return steps, workflow.flow_diagram


def templates_frame() -> pd.DataFrame:
    """The BMAD-compatible templates with the variables a run of each asks for."""
    import pandas as pd

    from botarmy_nb.bmad.loader import load_bmad

    core = load_bmad()
    return pd.DataFrame(
        [
            {
                "name": key,
                "title": t.name,
                "creates": t.artifact or "",
                "required inputs": ", ".join(t.required_inputs),
                "variables": ", ".join(t.variables),
            }
            for key, t in sorted(core.templates.items())
        ],
        columns=["name", "title", "creates", "required inputs", "variables"],
    )
