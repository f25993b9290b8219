"""The ``scripted`` model: offline, deterministic, role-aware replies with token usage.

It is no LLM and says so: every reply is built from the agent's role, its instructions
(markdown headings in the system message become sections) and the task's first line.
Reviewers ask for one revision and then approve; the agent that closes the conversation
appends the team's stop word; in a Swarm each agent hands off once to the next agent that
has not spoken yet.

Replies hold only what the agent says: that it is the scripted model shows in the
``model`` of each message (and in every view of it), never as a line inside the text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from autogen_core import CancellationToken, FunctionCall
from autogen_core.models import (
    AssistantMessage,
    CreateResult,
    LLMMessage,
    RequestUsage,
    SystemMessage,
    UserMessage,
)
from autogen_core.tools import Tool, ToolSchema

from botarmy_nb.models.offline import OfflineClient, text_of, words
from botarmy_nb.models.registry import AgentContext

__all__ = ["ScriptedChatCompletionClient"]

LABEL = "scripted"
_REVIEWER = re.compile(r"review|critic|qa|test|approv|editor", re.I)
_SELECTOR = re.compile(r"select the next role from (\[[^\]]*\])", re.I)

_ROLE_LINES: dict[str, tuple[str, ...]] = {
    "writer": (
        "Opening: why this matters to the reader.",
        "Body: the three ideas, in order.",
        "Close: what to do next.",
    ),
    "analyst": (
        "Problem: who hurts today and how often.",
        "Market: two alternatives and gaps.",
        "Open questions for the team.",
    ),
    "pm": (
        "Goal: one measurable outcome.",
        "Requirements: FR1, FR2, FR3.",
        "Non-goals: what we leave out.",
    ),
    "architect": (
        "Components: client, API, store.",
        "Data flow: request → service → database.",
        "Risks: scaling the write path.",
    ),
    "dev": (
        "Plan: smallest change first.",
        "Code: module, tests, docs.",
        "Done when tests pass in CI.",
    ),
    "planner": (
        "Step 1: understand the ask.",
        "Step 2: split into tasks.",
        "Step 3: assign owners.",
    ),
    "researcher": (
        "Sources: three reputable references.",
        "Findings: what they agree on.",
        "Gaps: what nobody measured.",
    ),
}


class ScriptedChatCompletionClient(OfflineClient):
    """Deterministic stand-in for an LLM, one instance per agent per run."""

    def __init__(self, context: AgentContext) -> None:
        self._ctx = context
        self._calls = 0
        self._picked: set[str] = set()
        super().__init__()

    # -- the reply ------------------------------------------------------------------------

    def _reply(
        self, messages: Sequence[LLMMessage], tools: Sequence[Tool | ToolSchema]
    ) -> tuple[str | list[FunctionCall], str | None]:
        self._calls += 1
        prompt = text_of(messages[-1]) if messages else ""
        structured = _protocol_reply(prompt, self._ctx)
        if structured is not None:  # the BMAD workflow engine's section/decision prompts
            return structured, None
        selector = _SELECTOR.search(prompt)
        if selector:
            names = re.findall(r"'([^']+)'|\"([^\"]+)\"", selector.group(1))
            candidates = [a or b for a, b in names]
            fresh = [c for c in candidates if c not in self._picked]
            choice = (fresh or candidates or [""])[0 if fresh else self._calls % len(candidates)]
            self._picked.add(choice)
            return choice, None

        me = self._ctx.agent
        turn = 1 + sum(1 for m in messages if isinstance(m, AssistantMessage) and m.source == me)
        task = next(
            (text_of(m) for m in messages if isinstance(m, UserMessage) and m.source == "user"),
            "the task",
        )
        title = task.strip().splitlines()[0][:80] if task.strip() else "the task"
        speakers = [m.source for m in messages if isinstance(m, UserMessage | AssistantMessage)]
        previous = next((s for s in reversed(speakers) if s not in (me, "user")), None)
        system = next((m.content for m in messages if isinstance(m, SystemMessage)), "")

        handoffs = [t for t in (_tool_name(t) for t in tools) if t.startswith("transfer_to_")]
        pending = [h for h in handoffs if h.removeprefix("transfer_to_") not in speakers]
        if pending:
            body = self._body(title, turn, previous, system, final=False)
            call = FunctionCall(id=f"call_{me}_{self._calls}", name=pending[0], arguments="{}")
            return [call], body
        closes = bool(handoffs) or (
            self._ctx.ends_conversation
            and (turn >= 2 or not _REVIEWER.search(f"{self._ctx.role} {me}"))
        )
        body = self._body(title, turn, previous, system, final=closes)
        if self._ctx.stop_word and closes and self._ctx.stop_word not in body:
            body = f"{body}\n\n{self._ctx.stop_word}"
        return body, None

    def _body(
        self, title: str, turn: int, previous: str | None, system: str, *, final: bool
    ) -> str:
        me, role = self._ctx.agent, (self._ctx.role or self._ctx.agent)
        if _REVIEWER.search(role) or _REVIEWER.search(me):
            target = previous or "the team"
            if turn == 1 and not final:
                return (
                    f"Review of {target}'s work on “{title}”: REVISE\n"
                    "1. Make the goal measurable.\n2. Name the main risk and its mitigation.\n"
                    "3. Cut anything the reader cannot act on."
                )
            return (
                f"Review of {target}'s revision on “{title}”: APPROVE. "
                "The goal is measurable, the risk is named, and the text is actionable."
            )
        sections = re.findall(r"^#{2,3}\s+(.+)$", system, flags=re.M)
        lines = _ROLE_LINES.get(_role_key(role), _ROLE_LINES["writer"])
        seed = int(hashlib.sha256(f"{me}|{title}|{turn}".encode()).hexdigest()[:8], 16)
        opener = ("Draft", "Take", "Version")[seed % 3]
        parts = [f"## {opener} {turn}: {title}"]
        if turn > 1 and previous:
            parts.append(f"Revised after {previous}'s notes: goal made measurable, risk named.")
        if sections:
            parts += [f"### {s.strip()}\n{lines[i % len(lines)]}" for i, s in enumerate(sections)]
        else:
            parts += [f"- {line}" for line in lines]
        return "\n\n".join(parts)

    # -- ChatCompletionClient -------------------------------------------------------------

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Any = "auto",
        json_output: bool | type | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        content, thought = self._reply(messages, tools)
        completion = words(content) if isinstance(content, str) else 3 * len(content)
        usage = RequestUsage(
            prompt_tokens=sum(words(text_of(m)) for m in messages),
            completion_tokens=completion + (words(thought) if thought else 0),
        )
        self._count(usage)
        finish = "function_calls" if isinstance(content, list) else "stop"
        return CreateResult(
            finish_reason=finish, content=content, usage=usage, cached=False, thought=thought
        )


# one line each: a DOTALL ".*" here went quadratic on prompts with long context documents
_SECTION = re.compile(
    r"^Section: (?P<title>[^\n]*)\n(?:[^\n]*\n)*?Section type: (?P<type>[\w-]+)", re.M
)
_CHOICE = re.compile(r"^Options: (?P<options>.+)$", re.M)
_COLUMNS = re.compile(r"^Columns: (?P<columns>.+)$", re.M)


_WHY = re.compile(r"^Revise the document .+?\. Why: (?P<why>.*)$", re.M)
_WANTED = re.compile(r"^- (?P<name>[A-Za-z_][\w.-]*)(?: \((?P<hint>.*)\))?$", re.M)
_ITEM = re.compile(r"^(?P<n>\d+)\. - \[ \] (?P<text>.+)$", re.M)
_TITLES = (
    "Foundation and Setup",
    "Core Editing Flow",
    "Offline Sync",
    "Search and Navigation",
    "Sharing and Permissions",
    "Reporting and Insights",
)


def _seed(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def _placeholder_value(name: str, hint: str | None, prompt: str) -> str:
    """A plausible, deterministic value for a template placeholder."""
    lowered = name.lower()
    numbers = [int(n) for n in re.findall(r"_(?:num|number)=(\d+)", prompt)]
    pick = _TITLES[(sum(numbers) + _seed(name)) % len(_TITLES)]
    if hint and "|" in hint:
        return re.split(r"[|\s]", hint.strip())[0]
    if re.search(r"(?:^|_)(?:num|number|count|index)$", lowered):
        return "1"
    if "timestamp" in lowered or "date" in lowered:
        return "2025-01-01T00:00:00Z"
    if "slug" in lowered or "short" in lowered:
        return pick.lower().replace(" and ", "-").replace(" ", "-")
    if "title" in lowered or "name" in lowered:
        return pick
    if "status" in lowered:
        return "Draft"
    if "reason" in lowered or "summary" in lowered or "description" in lowered:
        return "Acceptance criteria are covered by tests; no blocking issues found."
    return f"{name.replace('_', ' ').capitalize()} for {pick.lower()}"


def _protocol_reply(prompt: str, ctx: AgentContext) -> str | None:
    """Answers to the workflow engine's prompts, shaped by what each prompt asks for."""
    start = prompt.find("--- CURRENT DOCUMENT ")
    end = prompt.find("\n--- END OF DOCUMENT ---")
    if start >= 0 and end > start:  # the document back, headings kept, the change noted
        doc = prompt[prompt.index("\n", start) + 1 : end]
        found = _WHY.search(prompt[:start])
        why = found["why"].strip()[:120] if found else ""
        return f"{doc.rstrip()}\n\n_Revised by {ctx.agent}: {why or 'as asked'}._"
    if "Answer with one line per placeholder, as name: value." in prompt:
        return "\n".join(
            f"{m['name']}: {_placeholder_value(m['name'], m['hint'], prompt)}"
            for m in _WANTED.finditer(prompt)
        )
    if "Answer one line per item as: N. PASS|PARTIAL|FAIL|N/A" in prompt:
        return "\n".join(
            f"{m['n']}. {'PARTIAL' if _seed(m['text']) % 9 == 0 else 'PASS'} — "
            f"checked against the documents by {ctx.agent}"
            for m in _ITEM.finditer(prompt)
        )
    if "Answer with yes or no." in prompt:
        return "yes\nThe documents so far support it and nothing argues against it."
    if "Answer with a number from 1 to" in prompt:
        return "2"
    choice = _CHOICE.search(prompt)
    if choice and "Answer with the option name only." in prompt:
        return choice["options"].split(",")[0].strip()
    section = _SECTION.search(prompt)
    if section is None:
        return None
    title, kind = section["title"].strip(), section["type"]
    who = f"{ctx.agent} ({ctx.role or ctx.agent}) [{LABEL} model]"
    if kind in ("bullet-list", "checklist"):
        return "\n".join(f"- {title}: point {i} from {who}" for i in (1, 2, 3))
    if kind == "numbered-list":
        return "\n".join(f"{i}. {title} item {i}" for i in (1, 2, 3))
    if kind == "table":
        columns = _COLUMNS.search(prompt)
        names = [c.strip() for c in columns["columns"].split(",")] if columns else ["Item"]
        return "\n".join(" | ".join(f"{c} {row}" for c in names) for row in (1, 2))
    if kind == "code":
        return f"# {title}\nexample: true  # drafted by {who}"
    if kind == "mermaid":
        return "flowchart LR\n  A[Start] --> B[" + title.replace("]", "") + "]"
    return f"{title}, drafted by {who}: concise, specific and ready for review."


def _tool_name(tool: Tool | ToolSchema) -> str:
    return tool.name if hasattr(tool, "name") else str(tool.get("name", ""))  # type: ignore[union-attr]


def _role_key(role: str) -> str:
    lowered = role.lower()
    for key in _ROLE_LINES:
        if key in lowered:
            return key
    if "product" in lowered or "manager" in lowered:
        return "pm"
    if "develop" in lowered or "engineer" in lowered:
        return "dev"
    return "writer"
