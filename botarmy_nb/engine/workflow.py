"""Execute BMAD-compatible workflows and templates as one run.

Each step runs its agent (an AutoGen AssistantAgent with the agent's persona); a step that
``creates`` a document has its template's sections drafted one by one by their owners,
with the documents the step ``requires`` in every prompt, so nothing is lost at a
hand-off. Conditions, optional steps, ``repeats`` and ``routes`` are honoured; prose
conditions and routes are decided by the agent and recorded; ``elicit`` sections become
human-in-the-loop requests answered by a recorded default when no human is attached.
Step boundaries are events, and a checkpoint after each step lets a run resume there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.base import TaskResult
from autogen_agentchat.messages import ModelClientStreamingChunkEvent
from autogen_core import CancellationToken

from botarmy_nb.bmad.conditions import parse_condition
from botarmy_nb.bmad.document import fill, render_document, repeat_scope, section_included
from botarmy_nb.bmad.models import BmadCore, BmadTemplate, TemplateSection, WorkflowStep
from botarmy_nb.engine.build import make_client
from botarmy_nb.engine.human import ask_human
from botarmy_nb.engine.normalize import normalize
from botarmy_nb.engine.recorder import RunRecorder
from botarmy_nb.events import (
    ArtifactEvent,
    ChunkEvent,
    Event,
    MessageEvent,
    StepEvent,
)
from botarmy_nb.models.cassette import CassetteRecorder
from botarmy_nb.models.registry import AgentContext
from botarmy_nb.models.spec import ModelSpec, parse_model_chain
from botarmy_nb.paths import numbered_name, safe_join

__all__ = ["MAX_REPEATS", "REPEAT_VARIABLES", "WorkflowExecution"]

MAX_REPEATS = 5  # "for each epic" never runs away
DEFAULT_REPEATS = 2
REPEAT_VARIABLES = ("epic_number", "story_number", "story_title")  # set by the engine
SO_FAR_CHARS = 2000  # how much of the document in progress each section prompt repeats
NO_HUMAN = "(no human attached: proceeding with the agent's draft)"


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


@dataclass
class WorkflowExecution:
    """The state of one BMAD run: agents, documents made so far, what was decided."""

    run_id: str
    core: BmadCore
    task: str
    variables: dict[str, Any]
    recorder: RunRecorder
    publish: Callable[[Event], None]
    token: CancellationToken
    default_model: str
    agent_models: dict[str, str]
    artifacts_dir: Path
    cassette: CassetteRecorder | None = None
    should_stop: Any = None  # the run's control: its cancel_requested stops between turns
    hitl_timeout_s: float | None = None  # None: no human attached (defaults recorded)
    documents: dict[str, str] = field(default_factory=dict)  # artifact name → Markdown
    done: list[int] = field(default_factory=list)  # finished step indices (for resume)
    _agents: dict[str, AssistantAgent] = field(default_factory=dict)
    _so_far: list[str] = field(default_factory=list)  # sections of the current document

    # -- agents ---------------------------------------------------------------------------

    def _agent(self, agent_id: str) -> AssistantAgent:
        if agent_id not in self._agents:
            bmad_agent = self.core.agents[agent_id]
            name = agent_id.replace("-", "_")
            chain: list[ModelSpec] = parse_model_chain(
                self.agent_models.get(agent_id) or self.default_model,
                option=f"model of agent '{agent_id}'",
            )
            context = AgentContext(
                agent=name, role=bmad_agent.title, instructions=bmad_agent.system_message()
            )
            client = make_client(
                context, chain, run_id=self.run_id, emit=self.recorder.emit, recorder=self.cassette
            )
            self._agents[agent_id] = AssistantAgent(
                name,
                model_client=client,
                system_message=bmad_agent.system_message(),
                description=bmad_agent.when_to_use or bmad_agent.title,
            )
        return self._agents[agent_id]

    async def ask(self, agent_id: str, prompt: str) -> str:
        """One turn of an agent; its messages become events; returns its answer."""
        if self.should_stop is not None and self.should_stop.cancel_requested:
            raise asyncio.CancelledError("stopped by the user")
        agent = self._agent(agent_id)
        # every turn starts from the persona alone: the prompt carries what the agent needs
        # (context documents, the document so far), so tokens grow linearly, not
        # quadratically with every section the agent has written before
        await agent.on_reset(self.token)
        answer = ""
        async for item in agent.run_stream(task=prompt, cancellation_token=self.token):
            if isinstance(item, TaskResult):
                continue
            if isinstance(item, ModelClientStreamingChunkEvent):
                self.publish(
                    ChunkEvent(run_id=self.run_id, agent=item.source, content=item.content)
                )
                continue
            event = normalize(item, run_id=self.run_id, models={})
            if event is None:
                continue
            if isinstance(event, MessageEvent) and event.kind == "task":
                event.agent, event.kind = "workflow", "prompt"
            self.recorder.emit(event)
            if (
                isinstance(event, MessageEvent)
                and event.agent == agent.name
                and event.kind in ("text", "thought")
            ):
                answer = event.content
        return answer.strip()

    def agent_for(self, step: WorkflowStep) -> str:
        """The agent that performs a step (``various`` and unnamed steps: the PO/first)."""
        for name in step.agents:
            if name in self.core.agents:
                return name
        for fallback in ("po", "pm", "analyst"):
            if fallback in self.core.agents:
                return fallback
        return next(iter(self.core.agents))

    # -- decisions ------------------------------------------------------------------------

    async def decide(self, agent_id: str, condition: str) -> bool:
        """A condition: evaluated when it is an expression, asked when it is prose."""
        parsed = parse_condition(condition)
        verdict = parsed.evaluate(self.variables, set(self.documents))
        if verdict is not None:
            return verdict
        answer = await self.ask(
            agent_id,
            (
                f"Project: {self.task}\nDecide for the workflow whether this holds: "
                f"{condition}\nAnswer with yes or no."
            ),
        )
        return answer.strip().lower().startswith("y")

    async def how_many(self, agent_id: str, title: str) -> int:
        """A repeatable section with no list variable: its owner says how many (1–5)."""
        answer = await self.ask(
            agent_id,
            (
                f"Project: {self.task}\nHow many '{title}' entries should the document have? "
                f"Answer with a number from 1 to {MAX_REPEATS}."
            ),
        )
        digits = "".join(ch for ch in answer if ch.isdigit())[:2]
        return max(1, min(int(digits) if digits else DEFAULT_REPEATS, MAX_REPEATS))

    async def elicit(self, agent_id: str, title: str, draft: str) -> str:
        """An ``elicit: true`` section: the human approves, rejects or amends the draft
        (or, with none attached, the draft stands and that is recorded). Returns the
        section as it stands after the answer."""
        response, outcome = await ask_human(
            self.recorder,
            agent=agent_id,
            prompt=f"Review the draft of '{title}': approve it, reject it, or write changes",
            options=["approve", "reject"],
            default=NO_HUMAN,
            timeout_s=self.hitl_timeout_s,
            control=self.should_stop,
        )
        answer = response.strip()
        if outcome != "answered" or answer.lower() in ("approve", "approved", "ok", "yes", ""):
            return draft
        feedback = "Rewrite it from scratch." if answer.lower() == "reject" else answer
        return await self.ask(
            agent_id,
            f"Project: {self.task}\nYour draft of the section '{title}':\n{draft}\n\n"
            f"The reviewer answered: {feedback}\nWrite the revised section only.",
        )

    # -- documents ------------------------------------------------------------------------

    def _context(self, required: list[str]) -> str:
        docs: list[tuple[str, str]] = []
        for name in required:
            if name in self.documents:
                docs.append((name, self.documents[name]))
            else:  # a repeated step made story-1.md, story-2.md … for "story.md"
                stem, suffix = Path(name).stem, Path(name).suffix
                docs += [
                    (n, t)
                    for n, t in self.documents.items()
                    if n.startswith(f"{stem}-") and n.endswith(suffix)
                ]
        if not docs:
            return ""
        return "\n\nContext documents:\n" + "\n".join(
            f"--- {name} ---\n{text}" for name, text in docs
        )

    def _section_prompt(
        self,
        template: BmadTemplate,
        section: TemplateSection,
        scope: dict[str, Any],
        required: list[str],
    ) -> str:
        lines = [
            f"Project: {self.task}",
            f"Document: {fill(template.output_title or template.name, scope)}",
            f"Section: {fill(section.title or section.id, scope)}",
            f"Section type: {section.type}",
        ]
        if section.columns:
            lines.append(f"Columns: {', '.join(section.columns)}")
        if section.instruction:
            lines.append(f"Instruction: {fill(section.instruction, scope)}")
        if section.template:
            lines.append(f"Template: {fill(section.template, scope)}")
        if section.examples:
            lines.append("Examples:\n" + "\n".join(f"- {e}" for e in section.examples[:3]))
        known = {k: v for k, v in scope.items() if isinstance(v, str | int | float)}
        if known:
            lines.append("Known values: " + ", ".join(f"{k}={v}" for k, v in known.items()))
        lines.append("Write only the content of this section, in Markdown.")
        so_far = "\n\n".join(self._so_far)[-SO_FAR_CHARS:]
        if so_far:
            lines.append(f"Drafted so far in this document (end):\n{so_far}")
        return "\n".join(lines) + self._context(required)

    async def _draft(
        self,
        template: BmadTemplate,
        section: TemplateSection,
        key: str,
        scope: dict[str, Any],
        author: str,
        required: list[str],
        drafts: dict[str, Any],
        decisions: dict[str, bool],
    ) -> None:
        owner = self.core.agent_for_owner(section.owner) or author
        if section.condition and parse_condition(section.condition).is_prose:
            decisions[section.id] = await self.decide(owner, section.condition)
        if not section_included(section, scope, set(self.documents), decisions):
            return
        if section.repeatable:
            items = scope.get(section.id)
            count = (
                len(items)
                if isinstance(items, list)
                else await self.how_many(owner, section.title or section.id)
            )
            if not isinstance(items, list):
                drafts[f"{key}[]"] = [{} for _ in range(min(count, MAX_REPEATS))]
            for i in range(1, min(count, MAX_REPEATS) + 1):
                item = items[i - 1] if isinstance(items, list) else {}
                inner = repeat_scope(section, scope, item, i)
                single = section.model_copy(update={"repeatable": False, "condition": None})
                await self._draft(
                    template, single, f"{key}[{i}]", inner, author, required, drafts, decisions
                )
            return
        if section.instruction or section.template or not section.sections:
            drafts[key] = await self.ask(
                owner, self._section_prompt(template, section, scope, required)
            )
            if section.elicit:
                drafts[key] = await self.elicit(owner, section.title or section.id, drafts[key])
            self._so_far.append(f"{section.title}: {drafts[key]}")
        for child in section.sections:
            await self._draft(
                template, child, f"{key}.{child.id}", scope, author, required, drafts, decisions
            )

    async def document(
        self,
        template: BmadTemplate,
        author: str,
        required: list[str],
        scope: dict[str, Any],
        name: str,
    ) -> str:
        """Draft every included section with its owner, assemble and store the document.

        ``name`` comes from a BMAD file (or a model's route): it is checked before any
        drafting, and the document is written only under the run's artifacts folder.
        """
        path = safe_join(
            self.artifacts_dir / self.run_id,
            name,
            what=f"artifact name (template {template.file_stem})",
        )
        drafts: dict[str, Any] = {}
        decisions: dict[str, bool] = {}
        self._so_far = []
        for section in template.sections:
            await self._draft(
                template, section, section.id, scope, author, required, drafts, decisions
            )
        content = render_document(
            template,
            variables=scope,
            drafts=drafts,
            artifacts=set(self.documents),
            decisions=decisions,
        )
        self.documents[name] = content
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        self.recorder.emit(
            ArtifactEvent(
                run_id=self.run_id,
                agent=author,
                name=name,
                content=content,
                template=template.file_stem,
                path=str(path),
            )
        )
        return content

    # -- steps ----------------------------------------------------------------------------

    def _uses(self, name: str | None) -> str:
        """The text of the checklist or task a step ``uses``, for the agent to follow."""
        if not name:
            return ""
        for kind, files in self.core.resources.items():
            for candidate in (name, f"{name}.md"):
                if candidate in files:
                    text = Path(files[candidate]).read_text(encoding="utf-8")
                    return f"Follow this {kind[:-1]} ({candidate}):\n{text.strip()}\n"
        return ""

    def scope(self, **extra: Any) -> dict[str, Any]:
        """The values a document sees: the run's variables, with the story numbering the
        engine provides (a repeat overrides it)."""
        return {
            "epic_number": 1,
            "story_number": 1,
            "story_title": "Story 1.1",
            **self.variables,
            **extra,
        }

    def _step_event(self, step: WorkflowStep, phase: str, **extra: Any) -> None:
        self.recorder.emit(
            StepEvent(
                run_id=self.run_id,
                agent=step.agent,
                step=step.index + 1,
                label=step.label,
                phase=phase,
                **extra,
            )
        )  # type: ignore[arg-type]

    def _template_for(self, step: WorkflowStep, uses: str | None = None) -> BmadTemplate | None:
        ref = uses or step.uses
        template = self.core.template(ref) if ref else None
        if template is None and step.creates:
            template = self.core.template_for(step.creates)
        return template

    async def run_step(self, step: WorkflowStep) -> None:
        agent = self.agent_for(step)
        self._step_event(step, "started")
        if step.optional and not _truthy(self.variables.get("include_optional")):
            self._step_event(
                step, "skipped", reason="optional: --var include_optional=true runs optional steps"
            )
            return
        if step.condition and not await self.decide(agent, step.condition):
            self._step_event(step, "skipped", reason=f"condition not met: {step.condition}")
            return
        made: str | None = None
        if step.routes:
            made = await self._route(step, agent)
        elif step.creates and step.repeats:
            count = self.variables.get("epics")
            total = (
                len(count)
                if isinstance(count, list)
                else int(self.variables.get("epic_count", DEFAULT_REPEATS))
            )
            for i in range(1, min(total, MAX_REPEATS) + 1):
                name = numbered_name(step.creates, i)
                scope = {
                    **self.variables,
                    "epic_number": i,
                    "story_number": 1,
                    "story_title": f"Story {i}.1",
                }
                await self._make(step, agent, name, scope)
            made = step.creates
        elif step.creates and (step.creates.endswith(".md") or self._template_for(step)):
            made = step.creates
            await self._make(step, agent, step.creates, self.scope())
        elif step.agent or step.action or step.updates or step.creates:
            what = (
                step.action
                or (f"update {step.updates}" if step.updates else None)
                or (f"produce {step.creates}" if step.creates else step.label)
            )
            await self.ask(
                agent,
                (
                    f"Project: {self.task}\nWorkflow step: {what}\n"
                    + (f"Notes: {step.notes}\n" if step.notes else "")
                    + self._uses(step.uses)
                    + "Do this step and report the outcome briefly."
                    + self._context(step.requires or list(self.documents))
                ),
            )
        self._step_event(step, "finished", artifact=made)

    async def _make(self, step: WorkflowStep, agent: str, name: str, scope: dict[str, Any]) -> None:
        template = self._template_for(step)
        if template is not None:
            await self.document(template, agent, step.requires, scope, name)
            return
        text = await self.ask(
            agent,
            (
                f"Project: {self.task}\nWrite the document {name}."
                + (f"\nNotes: {step.notes}" if step.notes else "")
                + self._context(step.requires)
            ),
        )
        self.documents[name] = text

    async def _route(self, step: WorkflowStep, agent: str) -> str | None:
        routes = step.routes or {}
        choice = str(self.variables.get("route", ""))
        if choice not in routes:
            options = ", ".join(routes)
            answer = await self.ask(
                agent,
                (
                    f"Project: {self.task}\nChoose the route that fits this change.\n"
                    + "\n".join(
                        f"- {k}: {v.get('description', '') if isinstance(v, dict) else v}"
                        for k, v in routes.items()
                    )
                    + f"\nOptions: {options}\nAnswer with the option name only."
                ),
            )
            choice = next((r for r in routes if r in answer), next(iter(routes)))
        self.variables["route"] = choice
        target = routes[choice] if isinstance(routes[choice], dict) else {}
        template = self.core.template(str(target["uses"])) if target.get("uses") else None
        if template is not None and template.artifact:
            owner = str(target.get("agent") or agent)
            owner = owner if owner in self.core.agents else agent
            await self.document(
                template, owner, list(self.documents), self.scope(), template.artifact
            )
            return template.artifact
        return None


async def run_bmad(
    run_id: str,
    request: Any,
    *,
    store: Any,
    recorder: RunRecorder,
    publish: Callable[[Event], None],
    control: Any,
    artifacts_dir: Path,
) -> str:
    """Run a workflow (or a single template) to its end; returns the stop reason."""
    from botarmy_nb.bmad.loader import load_bmad

    core = load_bmad(request.bmad_roots or None)
    cassette = CassetteRecorder(Path(request.record_path)) if request.record_path else None
    execution = WorkflowExecution(
        run_id=run_id,
        core=core,
        task=request.task,
        variables=dict(request.variables),
        recorder=recorder,
        publish=publish,
        token=control.token,
        default_model=request.default_model,
        agent_models=dict(request.agent_models),
        artifacts_dir=artifacts_dir,
        cassette=cassette,
        should_stop=control,
        hitl_timeout_s=request.hitl_timeout_s,
    )
    checkpoint = store.latest_checkpoint(run_id)
    progress = (checkpoint.state.get("workflow") if checkpoint else None) or {}
    execution.done = list(progress.get("done", []))
    execution.documents = dict(progress.get("documents", {}))
    execution.variables.update(progress.get("variables", {}))
    if request.template:
        template = core.template(request.template)
        assert template is not None  # checked before the run started
        author = next(
            (
                core.agent_for_owner(s.owner)
                for s in template.sections
                if core.agent_for_owner(s.owner)
            ),
            None,
        ) or execution.agent_for(WorkflowStep(index=0))
        await execution.document(
            template,
            author,
            [],
            dict(execution.variables),
            template.artifact or f"{template.file_stem}.md",
        )
        reason = f"template {template.file_stem} complete"
    else:
        workflow = core.workflows[request.workflow]
        for step in workflow.steps:
            if step.index in execution.done:
                continue  # resumed: this step finished before the crash
            await execution.run_step(step)
            execution.done.append(step.index)
            recorder.flush(
                checkpoint=(
                    recorder.seq,
                    {
                        "workflow": {
                            "done": execution.done,
                            "documents": execution.documents,
                            "variables": {
                                k: v
                                for k, v in execution.variables.items()
                                if isinstance(v, str | int | float | bool)
                            },
                        }
                    },
                )
            )
        reason = f"workflow {workflow.id} complete: {len(workflow.steps)} steps"
    if cassette is not None:
        cassette.save()
    return reason
