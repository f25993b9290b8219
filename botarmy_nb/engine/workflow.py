"""Execute BMAD-compatible workflows and templates as one run: steps, conditions, routes.

Each step runs its agent (an AutoGen AssistantAgent with the agent's persona) and does
what its kind says (``bmad/resolve.py``): ``creates`` drafts a document from the step's
template (``engine/drafting.py``), ``updates`` writes a new version, ``validates`` runs a
checklist into a report, tasks such as ``shard-doc`` produce what they describe, and a
repeated step opens a numbered cycle (the story cycle). Conditions that name a given
variable use it; the others, and routes, are decided by the responsible agent — or a
human when one is attached — and the decision and its reason go on the step event.
Step boundaries are events, and a checkpoint after each step lets a run resume there.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.base import TaskResult
from autogen_agentchat.messages import ModelClientStreamingChunkEvent
from autogen_core import CancellationToken

from botarmy_nb.bmad.checklist import ChecklistReport, checklist_groups, parse_verdicts
from botarmy_nb.bmad.conditions import parse_condition
from botarmy_nb.bmad.document import number_aliases
from botarmy_nb.bmad.models import BmadCore, BmadTemplate, WorkflowStep
from botarmy_nb.bmad.resolve import (
    cycle_end,
    document_name,
    resolve_template,
    slug,
    step_kind,
    task_for,
)
from botarmy_nb.engine.build import make_client
from botarmy_nb.engine.drafting import DEFAULT_REPEATS, MAX_REPEATS, Drafted, Drafter
from botarmy_nb.engine.human import ask_human
from botarmy_nb.engine.normalize import normalize
from botarmy_nb.engine.recorder import RunRecorder
from botarmy_nb.events import ChunkEvent, Event, MessageEvent, StepEvent
from botarmy_nb.models.cassette import CassetteRecorder
from botarmy_nb.models.registry import AgentContext
from botarmy_nb.models.spec import ModelSpec, parse_model_chain
from botarmy_nb.paths import numbered_name

__all__ = ["MAX_REPEATS", "REPEAT_VARIABLES", "Decision", "WorkflowExecution", "run_bmad"]

# set by the engine in every document's scope (a numbered repeat overrides them)
REPEAT_VARIABLES = (
    "epic_number",
    "story_number",
    "epic_num",
    "story_num",
    "story_title",
)
NO_HUMAN = "(no human attached: proceeding with the agent's draft)"
_STORY = re.compile(r"^#{2,4}\s+Story\s+(\d+)\.(\d+)[:.\s-]*(.*)$", re.M)
_EPIC = re.compile(r"^#{2,4}\s+Epic\s+(\d+)[:.\s-]*(.*)$", re.M)
_EXIT = re.compile(r"exit workflow", re.I)
_ALL = ("all_artifacts", "all_artifacts_in_project", "any_flagged_documents")


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Decision:
    """A condition's or route's outcome, who decided and why."""

    verdict: bool
    by: str  # "variables", an agent id, or "human"
    reason: str
    choice: str | None = None  # a route's name

    @property
    def label(self) -> str:
        return self.choice or ("yes" if self.verdict else "no")


@dataclass
class _Outcome:
    """What a step produced, for its ``finished`` event."""

    artifacts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    reason: str | None = None
    decision: Decision | None = None

    def add(self, drafted: Drafted) -> None:
        self.artifacts.append(drafted.name)
        self.warnings += drafted.warnings


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
    workflow_type: str = ""
    documents: dict[str, str] = field(default_factory=dict)  # artifact name → text
    authors: dict[str, str] = field(default_factory=dict)  # artifact name → agent
    aliases: dict[str, list[str]] = field(default_factory=dict)  # step's name → artifacts
    done: list[Any] = field(default_factory=list)  # finished steps: index or "index@n"
    ended: str | None = None  # a route ended the workflow early: why
    iteration: str | None = None  # the cycle iteration being run ("story 1.2")
    _previous_agent: str | None = None  # a route without an agent: who classified
    _agents: dict[str, AssistantAgent] = field(default_factory=dict)
    _last_answer: str = ""

    def __post_init__(self) -> None:
        self.drafter = Drafter(self)

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
        self._last_answer = answer.strip()
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

    async def _human(
        self, agent_id: str, question: str, options: list[str], default: str
    ) -> str | None:
        """A human's answer when one is attached (None: nobody, or nobody in time)."""
        if self.hitl_timeout_s is None:
            return None
        response, outcome = await ask_human(
            self.recorder,
            agent=agent_id,
            prompt=question,
            options=options,
            default=default,
            timeout_s=self.hitl_timeout_s,
            control=self.should_stop,
        )
        answer = response.strip()
        return answer if outcome == "answered" and answer in options else None

    async def decide(self, agent_id: str, condition: str) -> Decision:
        """A condition: from the variables when it names given ones, else the agent's (or
        an attached human's) decision with its reason."""
        parsed = parse_condition(condition)
        names = parsed.names
        given = [n for n in names if n in self.variables or n in self.documents]
        if not parsed.is_prose and names and len(given) == len(names):
            verdict = bool(parsed.evaluate(self.variables, set(self.documents)))
            shown = ", ".join(f"{n}={self.variables.get(n, 'made')}" for n in names)
            return Decision(verdict, "variables", f"given: {shown}")
        answer = await self.ask(
            agent_id,
            (
                f"Project: {self.task}\nDecide for the workflow whether this holds: "
                f"{condition}\n"
                + (f"Latest outcome: {self._last_answer[:600]}\n" if self._last_answer else "")
                + "Answer with yes or no. Then give the reason in one sentence."
            ),
        )
        verdict = answer.strip().lower().startswith("y")
        reason = re.sub(r"^\W*(yes|no)\b\W*", "", answer.strip(), flags=re.I).strip()
        reason = reason or "no reason given"
        human = await self._human(
            agent_id,
            f"Does '{condition}' hold? {agent_id} says {'yes' if verdict else 'no'}: {reason}",
            ["yes", "no"],
            "yes" if verdict else "no",
        )
        if human is not None:
            return Decision(
                human == "yes", "human", f"a human answered {human}; {agent_id}: {reason}"
            )
        return Decision(verdict, agent_id, reason)

    async def decide_section(self, owner: str, condition: str) -> bool:
        return (await self.decide(owner, condition)).verdict

    async def choose(self, agent_id: str, question: str, options: dict[str, str]) -> Decision:
        """One of ``options`` (name → description), by the agent or an attached human."""
        answer = await self.ask(
            agent_id,
            f"Project: {self.task}\n{question}\n"
            + (f"Latest outcome: {self._last_answer[:600]}\n" if self._last_answer else "")
            + "\n".join(f"- {k}: {v}" for k, v in options.items())
            + f"\nOptions: {', '.join(options)}\nAnswer with the option name only.",
        )
        choice = next((o for o in options if o in answer), None)
        by, reason = agent_id, f"{agent_id} chose {choice}"
        if choice is None:
            choice = next(iter(options))
            reason = f"{agent_id}'s answer named no option ({answer[:80]!r}): took the first"
        human = await self._human(agent_id, f"{question} {reason}", list(options), choice)
        if human is not None:
            choice, by, reason = human, "human", f"a human chose {human}"
        return Decision(True, by, reason, choice=choice)

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

    async def document(
        self,
        template: BmadTemplate,
        author: str,
        required: list[str],
        scope: dict[str, Any],
        name: str | None = None,
    ) -> str:
        """Draft and store one document from ``template``; returns its text."""
        return (await self.drafter.draft(template, author, required, scope, name)).content

    # -- context --------------------------------------------------------------------------

    def resolve_names(self, names: list[str]) -> list[str]:
        """Artifact names behind a step's ``requires``: documents, what a step called
        ``story.md`` made in this iteration (or all of them), symbolic names."""
        out: list[str] = []
        for raw in names:
            name = document_name(raw) or raw
            if raw in _ALL or name in _ALL:
                out += list(self.documents)
            elif name in self.aliases:
                out += self.aliases[name]
            elif name in self.documents:
                out.append(name)
            else:  # a repeated step made story-1.md, story-2.md … for "story.md"
                stem, suffix = PurePosixPath(name).stem, PurePosixPath(name).suffix
                out += [
                    n for n in self.documents if n.startswith(f"{stem}-") and n.endswith(suffix)
                ]
        return [n for n in dict.fromkeys(out) if n in self.documents]

    def context(self, required: list[str]) -> str:
        docs = self.resolve_names(required)
        if not docs:
            return ""
        return "\n\nContext documents:\n" + "\n".join(
            f"--- {name} ---\n{self.documents[name]}" for name in docs
        )

    def _resource(self, name: str | None) -> tuple[str, str] | None:
        """(kind, text) of the checklist or task called ``name``."""
        if not name:
            return None
        stem = PurePosixPath(name).name
        for kind, files in self.core.resources.items():
            for candidate in (stem, f"{stem}.md"):
                if candidate in files:
                    text = Path(files[candidate]).read_text(encoding="utf-8")
                    return kind, text
        return None

    def _follow(self, name: str | None) -> str:
        found = self._resource(name)
        if found is None:
            return ""
        kind, text = found
        file = name if name and name.endswith(".md") else f"{name}.md"
        return f"Follow this {kind[:-1]} ({file}):\n{text.strip()}\n"

    def scope(self, **extra: Any) -> dict[str, Any]:
        """The values a document sees: the run's variables, with the story numbering the
        engine provides (a repeat overrides it)."""
        given = {k: v for k, v in self.variables.items() if not k.startswith("__")}
        return {
            **number_aliases("epic_number", 1),
            **number_aliases("story_number", 1),
            **given,
            **extra,
        }

    # -- steps ----------------------------------------------------------------------------

    def _label(self, step: WorkflowStep) -> str:
        return f"{step.label} ({self.iteration})" if self.iteration else step.label

    def _step_event(self, step: WorkflowStep, phase: str, **extra: Any) -> None:
        self.recorder.emit(
            StepEvent(
                run_id=self.run_id,
                agent=step.agent,
                step=step.index + 1,
                label=self._label(step),
                phase=phase,  # type: ignore[arg-type]
                **extra,
            )
        )

    def _template(self, step: WorkflowStep, agent: str) -> tuple[BmadTemplate | None, str | None]:
        found = resolve_template(self.core, step, step.agents or [agent], self.workflow_type)
        return found.template, found.warning

    async def run_step(self, step: WorkflowStep) -> None:
        """Run one step and record what it did (a finished event always says what it
        made, or why it made nothing)."""
        agent = self.agent_for(step)
        kind = step_kind(self.core, step)
        self._step_event(step, "started")
        if self.ended:
            self._step_event(step, "skipped", reason=self.ended)
            return
        if step.optional and not _truthy(self.variables.get("include_optional")):
            self._step_event(
                step, "skipped", reason="optional: --var include_optional=true runs optional steps"
            )
            return
        decision: Decision | None = None
        if step.condition and kind != "route":
            decision = await self.decide(agent, step.condition)
            if not decision.verdict:
                self._step_event(
                    step,
                    "skipped",
                    reason=f"condition not met: {step.condition} ({decision.reason})",
                    decision=decision.label,
                    decided_by=decision.by,
                )
                return
        outcome = await getattr(self, f"_do_{kind}")(step, agent)
        outcome.decision = outcome.decision or decision
        made = outcome.artifacts
        reason = outcome.reason
        if outcome.decision and not reason:
            reason = f"condition {step.condition}: {outcome.decision.reason}"
        if len(made) > 1 and not reason:
            reason = f"made {len(made)} documents: " + ", ".join(made)
        self._step_event(
            step,
            "finished",
            artifact=made[0] if made else None,
            reason=reason,
            warning="; ".join(dict.fromkeys(outcome.warnings)) or None,
            decision=outcome.decision.label if outcome.decision else None,
            decided_by=outcome.decision.by if outcome.decision else None,
        )

    def _remember(self, step: WorkflowStep, made: list[str]) -> None:
        for raw in (step.creates, step.updates):
            if raw and made:
                key = document_name(raw) or raw
                self.aliases[key] = list(dict.fromkeys([*self.aliases.get(key, []), *made]))
                if self.iteration:  # in a cycle, "story.md" means this iteration's story
                    self.aliases[key] = made

    def _name(self, step: WorkflowStep, number: int | None = None) -> str:
        name = document_name(step.creates) or f"{slug(step.creates or step.task or step.label)}.md"
        return numbered_name(name, number) if number else name

    async def _do_create(self, step: WorkflowStep, agent: str) -> _Outcome:
        out = _Outcome()
        template, warning = self._template(step, agent)
        number = self.variables.get("__iteration__")
        name = self._name(step, number)
        scope = self.scope()
        if template is not None:
            own = None if template.output_filename and "{{" in template.output_filename else name
            drafted = await self.drafter.draft(template, agent, step.requires, scope, own)
        else:
            instructions = (f"Notes: {step.notes}\n" if step.notes else "") + self._follow(
                task_for(self.core, step)
            )
            drafted = await self.drafter.free_text(agent, name, instructions, step.requires, None)
        out.add(drafted)
        if warning:
            out.warnings.insert(0, warning)
        self._remember(step, out.artifacts)
        return out

    async def _do_task(self, step: WorkflowStep, agent: str) -> _Outcome:
        task = task_for(self.core, step)
        if task == "shard-doc":
            return self._shard(step, agent)
        out = _Outcome()
        instructions = (f"Notes: {step.notes}\n" if step.notes else "") + self._follow(task)
        name = self._name(step, self.variables.get("__iteration__"))
        required = step.requires or list(self.documents)
        out.add(await self.drafter.free_text(agent, name, instructions, required, None))
        self._remember(step, out.artifacts)
        return out

    def _shard(self, step: WorkflowStep, agent: str) -> _Outcome:
        """shard-doc: each large document split at its level-2 headings into
        ``<stem>/<section>.md`` plus an ``index.md`` (what the task describes)."""
        out = _Outcome()
        sources = [
            n
            for n in self.resolve_names(step.requires or ["all_artifacts"])
            if n.endswith(".md") and "/" not in n
        ]
        for name in sources:
            parts = re.split(r"(?m)^(?=## )", self.documents[name])
            sections = [p for p in parts if p.startswith("## ")]
            if not sections:
                continue
            stem = PurePosixPath(name).stem
            index = [f"# {stem}", ""]
            for part in sections:
                title = part.splitlines()[0][3:].strip()
                shard = f"{stem}/{slug(title)}.md"
                body = re.sub(r"(?m)^#(#+) ", r"\1 ", part)  # each shard starts at level 1
                out.add(self.drafter.store(shard, body, agent, None, "markdown"))
                index.append(f"- [{title}](./{slug(title)}.md)")
            out.add(
                self.drafter.store(
                    f"{stem}/index.md", "\n".join(index) + "\n", agent, None, "markdown"
                )
            )
        self._remember(step, out.artifacts)
        if not out.artifacts:
            out.reason = "nothing to shard: no document with level-2 sections yet"
        else:
            out.reason = f"sharded {len(sources)} document(s) into {len(out.artifacts)} files"
        return out

    async def _do_update(self, step: WorkflowStep, agent: str) -> _Outcome:
        out = _Outcome()
        target = step.updates or ""
        if target in _ALL or (document_name(target) is None and target not in self.aliases):
            names = await self._flagged(agent, target)
        else:
            names = self.resolve_names([target])
        if not names:
            out.reason = f"nothing to update: no document matches {target!r} yet"
            return out
        why = (step.notes or step.action or "update it").strip()
        extra = self._follow(task_for(self.core, step))
        for name in names:
            owner = agent if step.agents else self.authors.get(name, agent)
            revised = await self.drafter.revise(owner, name, f"{why}\n{extra}", step.requires)
            out.add(revised)
        out.reason = ", ".join(f"{n} version {self.drafter.versions[n]}" for n in out.artifacts)
        self._remember(step, out.artifacts)
        return out

    async def _flagged(self, agent: str, target: str) -> list[str]:
        """The documents a checklist report flagged (``any_flagged_documents``)."""
        docs = [n for n in self.documents if not n.endswith("-report.md") and "/" not in n]
        if not docs:
            return []
        decision = await self.choose(
            agent,
            f"Which document needs changes ({target}) after the validation report?",
            {n: f"by {self.authors.get(n, '?')}" for n in docs},
        )
        return [decision.choice] if decision.choice else []

    async def _do_validate(self, step: WorkflowStep, agent: str) -> _Outcome:
        """Run the checklist the step uses over the documents; store a report with each
        item's verdict, and set ``<agent>_checklist_issues`` for later conditions."""
        out = _Outcome()
        found = self._resource(step.uses)
        if found is None or found[0] != "checklists":
            out.reason = f"no checklist named {step.uses!r}: nothing validated"
            out.warnings.append(out.reason)
            return out
        text = found[1]
        groups = checklist_groups(text)
        targets = self.resolve_names([step.validates or "all_artifacts"])
        items = [i for _, group in groups for i in group]
        report = ChecklistReport(checklist=f"{step.uses}.md", items=items)
        for title, group in groups:
            answer = await self.ask(
                agent,
                f"Project: {self.task}\nFollow this checklist ({step.uses}.md) over the "
                f"documents: {', '.join(targets) or 'none yet'}.\nChecklist section: {title}\n"
                "Checklist items:\n"
                + "\n".join(f"{i.number}. - [ ] {i.text}" for i in group)
                + "\nAnswer one line per item as: N. PASS|PARTIAL|FAIL|N/A — reason."
                + self.context(targets),
            )
            report.verdicts.update(parse_verdicts(answer, group))
        name = f"{PurePosixPath(step.uses or 'checklist').name}-report.md"
        name = (
            numbered_name(name, self.variables["__iteration__"])
            if self.variables.get("__iteration__")
            else name
        )
        title = f"Validation report: {step.uses} over {', '.join(targets) or 'no documents'}"
        out.add(self.drafter.store(name, report.to_markdown(title), agent, None, "markdown"))
        issues = report.issues
        self.variables[f"{agent}_checklist_issues"] = bool(issues)
        self.variables["checklist_issues"] = bool(issues)
        missing = [i for i in items if i.number not in report.verdicts]
        if missing:
            out.warnings.append(f"{len(missing)} checklist item(s) got no verdict")
        out.reason = f"{len(items)} items, {len(issues)} with issues"
        return out

    async def _do_action(self, step: WorkflowStep, agent: str) -> _Outcome:
        what = step.action or step.task or step.label
        answer = await self.ask(
            agent,
            f"Project: {self.task}\nWorkflow step: {what}\n"
            + (f"Notes: {step.notes}\n" if step.notes else "")
            + self._follow(task_for(self.core, step) or step.uses)
            + "Do this step and report the outcome briefly."
            + self.context(step.requires or list(self.documents)),
        )
        return _Outcome(reason=f"no document: {agent} reported the outcome ({len(answer)} chars)")

    async def _do_marker(self, step: WorkflowStep, agent: str) -> _Outcome:
        return _Outcome(reason="a marker step: nothing to do")

    async def _do_repeat(self, step: WorkflowStep, agent: str) -> _Outcome:
        """A repeated step outside a story cycle: N numbered documents."""
        out = _Outcome()
        total = self.repeat_count()
        for n in range(1, total + 1):
            self.variables["__iteration__"] = n
            try:
                inner = await self._do_create(step, agent)
            finally:
                self.variables.pop("__iteration__", None)
            out.artifacts += inner.artifacts
            out.warnings += inner.warnings
        self._remember(step, out.artifacts)
        out.reason = f"repeated {total} times ({step.repeats}; at most {MAX_REPEATS})"
        return out

    def repeat_count(self) -> int:
        for key in ("repeat_count", "epic_count", "chapter_count"):
            if str(self.variables.get(key, "")).isdigit():
                return max(1, min(int(self.variables[key]), MAX_REPEATS))
        return DEFAULT_REPEATS

    # -- routes ---------------------------------------------------------------------------

    async def _do_route(self, step: WorkflowStep, agent: str) -> _Outcome:
        routes = step.routes or {}
        options = {
            str(k): str(v.get("notes") or v.get("description") or "")
            if isinstance(v, dict)
            else str(v)
            for k, v in routes.items()
        }
        chosen = str(self.variables.get("route", ""))
        if chosen in routes:
            decision = Decision(True, "variables", f"given: route={chosen}", choice=chosen)
        else:
            decider = agent if step.agents else (self._previous_agent or agent)
            question = f"Choose the route that fits this change ({step.condition or step.label})."
            decision = await self.choose(decider, question, options)
        choice = decision.choice or next(iter(routes))
        self.variables["route"] = choice
        for name in routes:  # conditions such as major_enhancement_path read these
            self.variables[f"{name}_path"] = name == choice
            self.variables.setdefault(str(name), name == choice)
        out = _Outcome(decision=decision, reason=f"route {choice}: {decision.reason}")
        target = routes[choice] if isinstance(routes[choice], dict) else {}
        owner = str(target.get("agent") or agent)
        owner = owner if owner in self.core.agents else agent
        uses = str(target.get("uses") or "")
        template = self.core.template(uses) if uses else None
        if template is not None:
            out.add(await self.drafter.draft(template, owner, list(self.documents), self.scope()))
        elif uses:
            fake = WorkflowStep(index=step.index, agent=owner, task=uses, creates=f"{uses}.md")
            out.add(
                await self.drafter.free_text(
                    owner,
                    f"{slug(uses)}.md",
                    (f"Notes: {target.get('notes')}\n" if target.get("notes") else "")
                    + self._follow(task_for(self.core, fake)),
                    list(self.documents),
                    None,
                )
            )
        if _EXIT.search(str(target.get("notes", ""))):
            self.ended = f"the route {choice} ended the workflow (step {step.index + 1})"
        return out

    # -- the story cycle ------------------------------------------------------------------

    def stories(self) -> list[tuple[int, int, str | None]]:
        """(epic, story, title) of every story the PRD lists (else one per epic, else
        ``epic_count`` or two), at most MAX_REPEATS."""
        prds = [n for n in self.documents if PurePosixPath(n).name.startswith("prd")]
        text = "\n".join(self.documents[n] for n in prds[:1])
        found = [(int(e), int(s), t.strip() or None) for e, s, t in _STORY.findall(text)]
        if not found:
            found = [(int(e), 1, None) for e, _ in _EPIC.findall(text)]
        if not found:
            found = [(i, 1, None) for i in range(1, self.repeat_count() + 1)]
        return list(dict.fromkeys(found))[:MAX_REPEATS]

    async def run_cycle(self, steps: list[WorkflowStep], checkpoint: Callable[[], None]) -> None:
        """The steps from a repeated step to the end of its cycle, once per story, each
        iteration numbered (epic_num/story_num) and checkpointed step by step."""
        stories = self.stories()
        for n, (epic, story, title) in enumerate(stories, 1):
            self.iteration = f"story {epic}.{story}"
            numbers = {
                **number_aliases("epic_number", epic),
                **number_aliases("story_number", story),
                "__iteration__": n,
            }
            if title:
                numbers["story_title"] = title
            saved = {k: self.variables.get(k) for k in numbers}
            self.variables.update(numbers)
            try:
                for step in steps:
                    key = f"{step.index}@{n}"
                    if key in self.done:
                        continue
                    await self._run_in_cycle(step)
                    self.done.append(key)
                    checkpoint()
            finally:
                for k, v in saved.items():
                    if v is None:
                        self.variables.pop(k, None)
                    else:
                        self.variables[k] = v
                self.iteration = None

    async def _run_in_cycle(self, step: WorkflowStep) -> None:
        if step_kind(self.core, step) != "repeat":
            await self.run_step(step)
            return
        # the repeated step itself: this iteration's document (e.g. the next story)
        plain = step.model_copy(update={"repeats": None})
        await self.run_step(plain)


def _is_story_cycle(step: WorkflowStep) -> bool:
    text = f"{step.repeats or ''} {step.action or ''} {step.creates or ''}".lower()
    return any(word in text for word in ("epic", "story", "stories"))


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
    execution.authors = dict(progress.get("authors", {}))
    execution.aliases = dict(progress.get("aliases", {}))
    execution.drafter.versions = dict(progress.get("versions", {}))
    execution.ended = progress.get("ended")
    execution.variables.update(progress.get("variables", {}))

    def save() -> None:
        recorder.flush(
            checkpoint=(
                recorder.seq,
                {
                    "workflow": {
                        "done": execution.done,
                        "documents": execution.documents,
                        "authors": execution.authors,
                        "aliases": execution.aliases,
                        "versions": execution.drafter.versions,
                        "ended": execution.ended,
                        "variables": {
                            k: v
                            for k, v in execution.variables.items()
                            if isinstance(v, str | int | float | bool) and not k.startswith("__")
                        },
                    }
                },
            )
        )

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
        await execution.drafter.draft(template, author, [], execution.scope())
        reason = f"template {template.file_stem} complete"
    else:
        workflow = core.workflows[request.workflow]
        execution.workflow_type = workflow.type
        steps = workflow.sequence(request.variables.get("sequence"))
        pos = 0
        while pos < len(steps):
            step = steps[pos]
            if step.repeats and _is_story_cycle(step) and step_kind(core, step) == "repeat":
                end = cycle_end(steps, pos)
                await execution.run_cycle(steps[pos : end + 1], save)
                pos = end + 1
                continue
            if step.index not in execution.done:  # resumed: finished before the crash
                await execution.run_step(step)
                execution.done.append(step.index)
                save()
            execution._previous_agent = step.agents[0] if step.agents else execution._previous_agent
            pos += 1
        reason = f"workflow {workflow.id} complete: {len(steps)} steps"
        if execution.ended:
            reason += f" ({execution.ended})"
    if cassette is not None:
        cassette.save()
    return reason
