"""What a workflow step does and which template or task it uses, by BMAD's own conventions.

Upstream workflows rarely name their templates: a step says ``creates: prd.md`` and the
agent's dependencies hold the template. So a step's template is, in this order:

1. the one the step names: ``uses: prd-tmpl``, or a ``*-tmpl`` named in its ``notes``;
2. ``<stem of the created file>-tmpl`` among the agent's dependencies
   (``project-brief.md`` → ``project-brief-tmpl``, although that template writes
   ``docs/brief.md``);
3. a template among the agent's dependencies whose ``output.filename`` has the created
   file's name, preferring the workflow's ``type`` (``brownfield-prd-tmpl`` for a
   brownfield workflow, never for a greenfield one); several left is ambiguous.

An ambiguous or missing match is a warning the engine puts on the step event; a
template that would match but did not load is ``broken``, and the run is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from botarmy_nb.bmad.models import BmadCore, BmadTemplate, Problem, WorkflowStep

__all__ = [
    "NATIVE_TASKS",
    "Resolution",
    "cycle_end",
    "document_name",
    "resolve_template",
    "slug",
    "step_kind",
    "task_for",
]

_DOCUMENT = re.compile(r"[\w./-]*\w\.(?:md|ya?ml|txt|json)\b")
_NOTED_TEMPLATE = re.compile(r"\b([\w-]+-tmpl)\b")
_USE_TASK = re.compile(
    r"\b(?:use|using|run|runs)\s+(?:the\s+)?(?:task\s+)?([\w-]+)(?:\s+task)?", re.I
)
# actions the core writes without naming the task that does them
_ACTION_TASKS = {
    "shard_documents": "shard-doc",
    "shard_docs": "shard-doc",
    "create_story": "create-next-story",
    "draft_story": "create-next-story",
    "implement_story": "develop-story",
    "review_implementation": "review-story",
    "review_story": "review-story",
}
# tasks the engine performs itself (the others are followed by the agent)
NATIVE_TASKS = ("shard-doc", "create-next-story", "execute-checklist")
_CYCLE_END = re.compile(r"continue_for_all_stories|repeat_development_cycle", re.I)


@dataclass(frozen=True)
class Resolution:
    """A step's template, the rule that found it, and what the user should know."""

    template: BmadTemplate | None
    rule: str  # uses | notes | stem | filename | core | none
    warning: str | None = None
    broken: Problem | None = None  # the template it needs did not load


def document_name(text: str | None) -> str | None:
    """The file a ``creates``/``updates`` names: ``prd.md (if needed)`` → ``prd.md``;
    None for symbolic names (``sharded_docs``, ``implementation_files``)."""
    if not text:
        return None
    match = _DOCUMENT.search(text)
    return match.group(0) if match else None


def slug(text: str, *, limit: int = 60) -> str:
    """A file-name-safe form of free text: ``v0_prompt (optional)`` → ``v0-prompt``."""
    words = re.sub(r"\([^)]*\)", " ", text)
    cleaned = re.sub(r"[^A-Za-z0-9]+", "-", words).strip("-").lower()
    return cleaned[:limit].strip("-") or "document"


def _stem(name: str) -> str:
    return PurePosixPath(name).name.removesuffix(".yaml").removesuffix(".yml")


def _found(core: BmadCore, stem: str, rule: str) -> Resolution | None:
    template = core.template(stem)
    if template is not None:
        return Resolution(template, rule)
    broken = core.problem_for("templates", stem)
    if broken is not None:
        return Resolution(None, rule, f"template '{stem}' did not load: {broken}", broken)
    return None


def _by_type(candidates: list[BmadTemplate], kind: str) -> list[BmadTemplate]:
    """Prefer templates named for the workflow's type; a greenfield workflow never takes a
    brownfield template while another one fits."""
    if not kind:
        return candidates
    named = [t for t in candidates if t.file_stem.startswith(f"{kind}-")]
    if named:
        return named
    others = ("brownfield", "greenfield")
    plain = [t for t in candidates if not t.file_stem.startswith(tuple(f"{o}-" for o in others))]
    return plain or candidates


def resolve_template(
    core: BmadCore, step: WorkflowStep, agents: list[str], workflow_type: str = ""
) -> Resolution:
    """The template a step drafts its document from (see the module docstring)."""
    if step.uses:
        stem = _stem(step.uses)
        found = _found(core, stem, "uses")
        if found is not None:
            return found
    for stem in _NOTED_TEMPLATE.findall(f"{step.action or ''} {step.notes or ''}"):
        found = _found(core, stem, "notes")
        if found is not None:
            return found
    name = document_name(step.creates) or document_name(step.updates)
    if name is None:
        return Resolution(None, "none")
    deps = core.agent_templates(agents)
    stem = f"{PurePosixPath(name).stem}-tmpl"
    if stem in deps:
        found = _found(core, stem, "stem")
        if found is not None:
            return found
    base = PurePosixPath(name).name
    loaded = [core.templates[d] for d in deps if d in core.templates]
    matches = _by_type([t for t in loaded if t.artifact == base], workflow_type)
    who = "/".join(agents) or "the step's agent"
    if matches:
        chosen = matches[0]
        warning = None
        if len(matches) > 1:
            others = ", ".join(t.file_stem for t in matches[1:])
            warning = (
                f"ambiguous template for {name}: {chosen.file_stem} and {others} all write "
                f"it; used {chosen.file_stem} (name one with uses: in the step)"
            )
        return Resolution(chosen, "filename", warning)
    # not among the agent's dependencies: take a unique match of the whole core, said so
    anywhere = core.template(stem) or next(
        iter(_by_type([t for t in core.templates.values() if t.artifact == base], workflow_type)),
        None,
    )
    if anywhere is not None:
        return Resolution(
            anywhere,
            "core",
            f"{who} does not list a template for {name}; used {anywhere.file_stem}, "
            "found elsewhere in the core",
        )
    return Resolution(
        None,
        "none",
        f"no template for {name} ({who} lists none that writes it): drafted as free text",
    )


def task_for(core: BmadCore, step: WorkflowStep) -> str | None:
    """The task a step performs (a file under ``tasks/`` or one the engine does itself)."""
    tasks = {PurePosixPath(n).stem for n in core.resources.get("tasks", {})}
    known = tasks | set(NATIVE_TASKS)
    candidates = [step.task, step.uses]
    for text in (step.action, step.notes):
        candidates += [m for m in _USE_TASK.findall(text or "")]
    candidates.append(_ACTION_TASKS.get((step.action or "").strip().lower()))
    for candidate in candidates:
        if candidate and _stem(candidate).removesuffix(".md") in known:
            return _stem(candidate).removesuffix(".md")
    return None


def step_kind(core: BmadCore, step: WorkflowStep) -> str:
    """What a step does: route, validate, repeat (a numbered series, e.g. the story
    cycle), task, create, update, action (the agent acts and reports) or marker."""
    if step.routes:
        return "route"
    if step.validates:
        return "validate"
    if step.repeats and (step.creates or step.action or step.task):
        return "repeat"
    task = task_for(core, step)
    if task == "shard-doc":
        return "task"
    if step.creates and (document_name(step.creates) or task is None):
        return "create"
    if step.creates or (task and not step.updates):
        return "task"
    if step.updates:
        return "update"
    if step.agent or step.action or step.task:
        return "action"
    return "marker"


def cycle_end(steps: list[WorkflowStep], start: int) -> int:
    """The last position of the cycle that a repeated step at ``start`` opens.

    Upstream closes it with a ``continue_for_all_stories`` step; otherwise the cycle is
    the steps right after that need (require or update) what the cycle made.
    """
    for pos in range(start + 1, len(steps)):
        s = steps[pos]
        if _CYCLE_END.search(f"{s.step or ''} {s.action or ''}"):
            return pos
    made = {steps[start].creates} - {None}
    end = start
    for pos in range(start + 1, len(steps)):
        s = steps[pos]
        needs = (set(s.requires) | {s.updates}) - {None}
        if not needs & made:
            break
        made |= {s.creates, s.updates} - {None}
        end = pos
    return end
