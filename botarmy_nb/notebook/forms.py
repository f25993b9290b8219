"""What the control panel asks for, without widgets: the variables form of a team, workflow
or template, the agents that can get their own model, the provider choices, and one
``RunChoice`` that both starts the run and writes the equivalent ``%%botarmy`` cell."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from botarmy_nb.bmad.models import BmadCore, BmadTemplate

__all__ = [
    "KINDS",
    "FieldSpec",
    "ProviderChoice",
    "RunChoice",
    "agents_for",
    "fields_for",
    "provider_choices",
    "saved_line",
    "validate_values",
]

Kind = Literal["team", "workflow", "template"]
KINDS: tuple[Kind, ...] = ("team", "workflow", "template")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}")
_BOOLEAN = ("true", "false")


@dataclass(frozen=True)
class FieldSpec:
    """One variable of the form.

    ``choices`` is exhaustive (a dropdown); ``suggestions`` are values the template's
    conditions test for, offered while any text stays allowed.
    """

    name: str
    description: str = ""
    required: bool = True
    default: str | None = None
    choices: tuple[str, ...] = ()
    suggestions: tuple[str, ...] = ()


# -- the form of each kind -------------------------------------------------------------------


def _condition_values(template: BmadTemplate) -> dict[str, list[Any]]:
    """Literal values each variable is compared with in the template's conditions
    (``has_ui == true``, ``project_type in ["web", "api"]``); prose conditions add none."""
    from botarmy_nb.bmad.conditions import ConditionSyntaxError, parse_condition

    found: dict[str, list[Any]] = {}

    def add(name: str, values: Iterable[Any]) -> None:
        bucket = found.setdefault(name, [])
        bucket += [v for v in values if v not in bucket]

    def visit(tree: Any) -> None:
        op = tree[0]
        if op in ("and", "or"):
            for child in tree[1:]:
                visit(child)
        elif op == "not":
            visit(tree[1])
        elif op == "cmp" and tree[1] in ("==", "!="):
            for var, lit in ((tree[2], tree[3]), (tree[3], tree[2])):
                if var[0] == "var" and lit[0] == "lit":
                    add(var[1], [lit[1]])
        elif op == "in" and tree[1][0] == "var" and tree[2][0] == "list":
            add(tree[1][1], [item[1] for item in tree[2][1] if item[0] == "lit"])
        elif op == "var":
            add(tree[1], [True])  # a bare name is tested for truth

    for top in template.sections:
        for section in top.walk():
            if not section.condition:
                continue
            try:
                condition = parse_condition(section.condition)
            except ConditionSyntaxError:
                continue  # the loader reports it; the form just offers no values
            if not condition.is_prose:
                visit(condition.tree)
    return found


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def template_fields(template: BmadTemplate) -> list[FieldSpec]:
    """The template's inputs as form fields: required or not, with the default and choices
    the input declares, else the values its conditions test for."""
    tested = _condition_values(template)
    fields = []
    for item in template.inputs:
        declared = getattr(item, "choices", None) or ()
        default = getattr(item, "default", None)
        values = [_text(v) for v in tested.get(item.name, [])]
        choices: tuple[str, ...] = tuple(_text(v) for v in declared)
        suggestions: tuple[str, ...] = ()
        if not choices and values and set(values) <= set(_BOOLEAN):
            choices = _BOOLEAN  # a flag: only true or false mean anything
        elif not choices:
            suggestions = tuple(values)
        fields.append(
            FieldSpec(
                name=item.name,
                description=item.description,
                required=item.required,
                default=None if default is None else _text(default),
                choices=choices,
                suggestions=suggestions,
            )
        )
    return fields


def _merge(fields: Iterable[FieldSpec]) -> list[FieldSpec]:
    """One field per name: required if any template requires it, first description wins."""
    merged: dict[str, FieldSpec] = {}
    for f in fields:
        seen = merged.get(f.name)
        if seen is None:
            merged[f.name] = f
            continue
        merged[f.name] = FieldSpec(
            name=f.name,
            description=seen.description or f.description,
            required=seen.required or f.required,
            default=seen.default if seen.default is not None else f.default,
            choices=seen.choices or f.choices,
            suggestions=tuple(dict.fromkeys([*seen.suggestions, *f.suggestions])),
        )
    return list(merged.values())


def _workflow_templates(core: BmadCore, key: str) -> list[BmadTemplate]:
    flow = core.workflows[key]
    found = (
        (core.template(s.uses) if s.uses else None)
        or (core.template_for(s.creates) if s.creates else None)
        for s in flow.steps
    )
    return list({t.file_stem: t for t in found if t}.values())


def _team_fields(name: str) -> list[FieldSpec]:
    from botarmy_nb.specs.catalog import find_team

    spec = find_team(name)
    names: dict[str, None] = {}
    for agent in spec.agents:
        for var in _PLACEHOLDER.findall(agent.system_message):
            names.setdefault(var, None)
    return [FieldSpec(name=n, description="used in the agents' instructions") for n in names]


def fields_for(kind: Kind, name: str, core: BmadCore | None = None) -> list[FieldSpec]:
    """The variables a run of this team, workflow or template asks for."""
    if kind == "team":
        return _team_fields(name)
    core = core or _core()
    if kind == "template":
        template = core.template(name)
        return template_fields(template) if template else []
    from botarmy_nb.engine.workflow import REPEAT_VARIABLES

    fields = _merge(f for t in _workflow_templates(core, name) for f in template_fields(t))
    return [f for f in fields if f.name not in REPEAT_VARIABLES]  # the engine fills these


def agents_for(kind: Kind, name: str, core: BmadCore | None = None) -> list[str]:
    """The agents of a run that ``--model AGENT=SPEC`` can name (the run's speakers)."""
    if kind == "team":
        from botarmy_nb.specs.catalog import find_team

        spec = find_team(name)
        return [*spec.agent_names, *(["selector"] if spec.type == "selector" else [])]
    core = core or _core()
    if kind == "workflow":
        flow = core.workflows[name]
        return sorted({a for s in flow.steps for a in s.agents} & set(core.agents))
    template = core.template(name)
    if template is None:
        return []
    owners = {core.agent_for_owner(s.owner) for top in template.sections for s in top.walk()}
    return sorted(a for a in owners if a)


def _core() -> BmadCore:
    from botarmy_nb.bmad.loader import load_bmad

    return load_bmad()


def validate_values(fields: Iterable[FieldSpec], values: Mapping[str, str]) -> dict[str, str]:
    """Problems by field name: a required value missing, a value outside the choices."""
    problems: dict[str, str] = {}
    for f in fields:
        value = (values.get(f.name) or "").strip()
        if not value:
            if f.required:
                problems[f.name] = "required"
        elif f.choices and value not in f.choices:
            problems[f.name] = f"choose one of {', '.join(f.choices)}"
    return problems


# -- models ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderChoice:
    """A provider for the model dropdowns, and whether it can be used right now."""

    name: str
    configured: bool
    why: str  # "OPENAI_API_KEY is set", "set ANTHROPIC_API_KEY", "needs @base_url"
    default_model: str = ""
    needs_base_url: bool = False

    @property
    def label(self) -> str:
        return f"{'✔' if self.configured else '✘'} {self.name} — {self.why}"


def provider_choices() -> list[ProviderChoice]:
    """Every registered provider, configured ones first (scripted and replay need no key)."""
    from botarmy_nb.models.registry import known_providers
    from botarmy_nb.settings import provider_key

    out = []
    for name, p in known_providers().items():
        if p.key_variable and not provider_key(p.key_variable):
            configured, why = False, f"set {p.key_variable}"
        elif p.key_variable:
            configured, why = True, f"{p.key_variable} is set"
        else:
            configured, why = True, p.description or "no key needed"
        if p.needs_base_url and "base_url" not in why:
            why += " · needs @base_url"
        out.append(
            ProviderChoice(
                name=name,
                configured=configured,
                why=why,
                default_model=p.default_model,
                needs_base_url=p.needs_base_url,
            )
        )
    return sorted(out, key=lambda c: (not c.configured, c.name))


def model_spec(provider: str, model: str) -> str | None:
    """``provider:model`` from a provider dropdown and a model text (None: not chosen)."""
    provider, model = provider.strip(), model.strip()
    if not provider:
        return None
    if not model or (provider == "scripted" and model == "scripted"):
        return provider
    return f"{provider}:{model}"


# -- one choice, two uses: start it, or write it as a cell -------------------------------


@dataclass
class RunChoice:
    """Everything the panel's user chose; :meth:`prepare_kwargs` starts it and
    :meth:`cell_source` writes the same run as a ``%%botarmy`` cell."""

    kind: Kind
    target: str
    task: str
    variables: dict[str, str] = field(default_factory=dict)
    model: str | None = None
    agent_models: dict[str, str] = field(default_factory=dict)
    executor: str | None = None
    name: str | None = None
    max_turns: int | None = None

    def prepare_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`botarmy_nb.api.prepare` (after the task)."""
        return {
            self.kind: self.target,
            "variables": {k: v for k, v in self.variables.items() if v != ""},
            "model": self.model or None,
            "agent_models": dict(self.agent_models),
            "executor": self.executor or None,
            "name": self.name or None,
            "max_turns": self.max_turns or None,
        }

    def cell_source(self) -> str:
        """The ``%%botarmy`` cell that starts this same run."""
        from botarmy_nb.errors import ConfigError

        for key, value in [*self.variables.items(), ("name", self.name or "")]:
            if "\n" in value or "\r" in value:
                raise ConfigError(f"{key}: a line break cannot go on the %%botarmy line")
        words = [f"--{self.kind}", self.target]
        for key, value in self.variables.items():
            if value != "":
                words += ["--var", f"{key}={value}"]
        if self.model:
            words += ["--model", self.model]
        for agent, spec in self.agent_models.items():
            words += ["--model", f"{agent}={spec}"]
        if self.executor:
            words += ["--executor", self.executor]
        if self.name:
            words += ["--name", self.name]
        if self.max_turns:
            words += ["--max-turns", str(self.max_turns)]
        line = " ".join(shlex.quote(w) for w in words)
        return f"%%botarmy {line}\n{self.task.strip()}\n"


def saved_line(what: str) -> str:
    """The HTML a control widget's output falls back to where its widget cannot be drawn
    (GitHub, nbviewer, an example notebook reopened without a kernel)."""
    return f"<i>botarmy {what}: run this cell with a kernel to use it</i>"
