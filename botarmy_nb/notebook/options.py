"""The ``%%botarmy`` option line and the ``%botarmy`` commands' arguments: parsed and
checked, every problem an IPython UsageError that carries the usage line."""

from __future__ import annotations

import argparse
import difflib
import re
import shlex
from typing import Any

from IPython.core.error import UsageError

__all__ = [
    "CELL_USAGE",
    "LINE_COMMANDS",
    "LINE_USAGE",
    "RUNS_USAGE",
    "RUN_REF",
    "build_cell_parser",
    "parse_cell_options",
]

CELL_USAGE = (
    "%%botarmy [--team NAME|PATH | --workflow NAME | --template NAME | --continue RUN] "
    "[--model SPEC|AGENT=SPEC]... [--var KEY=VALUE]... [--tag KEY=VALUE]... "
    "[--max-turns N] [--name NAME] [--executor local|celery] [--queue NAME] [--priority N] "
    "[--timeout S] [--hitl-timeout S] [--bmad PATH]... [--trust-code] [--wait] [--interpolate] "
    "[--record FILE | --replay FILE]"
)
LINE_USAGE = "%botarmy COMMAND [ARGS]"
RUNS_USAGE = (
    "%botarmy runs [--status S] [--team T | --workflow W | --template T] [--tag KEY=VALUE]... "
    "[--since WHEN] [--until WHEN] [--limit N] [--table]"
)
LINE_COMMANDS = {
    "runs": "browse runs: --status, --team, --workflow, --template, --tag, --since, --until",
    "show": "RUN — summary and transcript of a run",
    "attach": "RUN — the live view of a run, from any kernel",
    "cancel": "RUN — stop a run (gracefully, then hard)",
    "resume": "RUN — go on with a lost, failed or cancelled run from its last checkpoint",
    "panel": "the control panel: choose, fill in, start, or write the cell",
    "builder": "the team builder: agents, team type, termination, save a team file",
    "teams": "list the teams --team can name",
    "workflows": "[NAME] — BMAD-compatible workflows; with NAME its steps and flow diagram",
    "templates": "BMAD-compatible templates with their variables",
    "status": "database, Redis, executor and providers, each ✔/✘ with why",
    "help": "this help",
}
RUN_REF = "RUN is a run id, an id prefix, or a name only one run has"
_VAR = re.compile(r"^([A-Za-z_][\w.-]*)=(.*)$", re.S)
_AGENT_MODEL = re.compile(r"^([A-Za-z_]\w*)=(.+)$")
_FIELD = re.compile(r"(?<!\{)\{([A-Za-z_]\w*)\}(?!\})")
_UNKNOWN = re.compile(r"^unrecognized arguments: (.+)$")


class _Parser(argparse.ArgumentParser):
    """argparse that reports problems as IPython UsageErrors carrying the usage line.

    ``usage`` is shown as written (argparse would read ``%%`` as ``%``), and an unknown
    option gets a did-you-mean from the parser's own options.
    """

    def __init__(self, *, usage: str, **kwargs: Any) -> None:
        super().__init__(usage=usage.replace("%", "%%"), **kwargs)
        self.usage_line = usage

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise UsageError(f"{self._hint(message)}\nusage: {self.usage_line}")

    def exit(self, status: int = 0, message: str | None = None) -> Any:  # type: ignore[override]
        raise _HelpShown()

    def _hint(self, message: str) -> str:
        unknown = _UNKNOWN.match(message)
        if not unknown:
            return message
        options = [o for o in self._option_string_actions if o.startswith("--")]
        for word in unknown[1].split():
            close = difflib.get_close_matches(word.split("=")[0], options, n=1)
            if word.startswith("-") and close:
                return f"{message} (did you mean {close[0]}?)"
        return message


class _HelpShown(Exception):
    pass


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _priority(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if not 0 <= number <= 9:
        raise argparse.ArgumentTypeError(f"a whole number between 0 and 9, not {value!r}")
    return number


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 < number < float("inf"):
        raise argparse.ArgumentTypeError(f"a positive number of seconds, not {value!r}")
    return number


def _var(value: str) -> tuple[str, str]:
    match = _VAR.match(value)
    if not match:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {value!r}")
    return match[1], match[2]


def build_cell_parser() -> _Parser:
    parser = _Parser(
        prog="%%botarmy",
        usage=CELL_USAGE,
        add_help=True,
        description="Run an agent team on the cell body as the task.",
    )
    parser.add_argument("--team", help="team name or YAML path (default: writers-room)")
    parser.add_argument(
        "--workflow", help="run a BMAD-compatible workflow (see %%botarmy workflows)"
    )
    parser.add_argument("--template", help="draft one BMAD-compatible template's document")
    parser.add_argument(
        "--continue",
        dest="continue_run",
        metavar="RUN",
        help="go on with a finished team run: the cell body is the next message",
    )
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        help="model spec for all agents, or AGENT=SPEC for one (repeatable)",
    )
    parser.add_argument(
        "--var",
        action="append",
        type=_var,
        default=[],
        metavar="KEY=VALUE",
        help="fills {{KEY}} in the task and the agents' instructions",
    )
    parser.add_argument(
        "--tag", action="append", type=_var, default=[], metavar="KEY=VALUE", help="label the run"
    )
    parser.add_argument("--max-turns", type=_positive, help="stop after N agent turns")
    parser.add_argument("--name", help="a name for the run (default: the team's name)")
    parser.add_argument("--executor", choices=["local", "celery"], default=None)
    parser.add_argument("--queue", help="the Celery queue to send the run to")
    parser.add_argument("--priority", type=_priority, metavar="N", help="queue priority 0-9")
    parser.add_argument("--timeout", type=_seconds, metavar="S", help="stop the run after S s")
    parser.add_argument(
        "--hitl-timeout",
        type=_seconds,
        metavar="S",
        help="how long a question to a human waits before its default is taken",
    )
    parser.add_argument(
        "--bmad",
        action="append",
        default=[],
        metavar="PATH",
        help="a BMAD-compatible core or expansion pack for this run (repeatable)",
    )
    parser.add_argument(
        "--trust-code",
        action="store_true",
        help="allow an AutoGen component team's tools to load (runs their stored code)",
    )
    parser.add_argument(
        "--wait", action="store_true", help="block until the run ends; a failed run raises"
    )
    parser.add_argument(
        "--interpolate",
        action="store_true",
        help="fill {name} in the cell from the notebook's variables",
    )
    parser.add_argument(
        "--record", metavar="FILE", help="write every model call of the run to this cassette"
    )
    parser.add_argument(
        "--replay", metavar="FILE", help="answer every model call from this cassette (offline)"
    )
    return parser


def _split(line: str, usage: str = CELL_USAGE) -> list[str]:
    if "\x00" in line:  # no option, path or --var value can hold one (nor can the store)
        raise UsageError(f"cannot parse options: they hold a NUL character\nusage: {usage}")
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"cannot parse options: {exc}\nusage: {usage}") from None


def parse_cell_options(line: str) -> argparse.Namespace:
    """The ``%%botarmy`` option line, checked; a problem is a UsageError with the usage line.

    ``model`` becomes the spec for all agents (or None) and ``agent_models`` the
    ``AGENT=SPEC`` ones; ``--help`` raises ``_HelpShown``.

    >>> parse_cell_options("--var topic=wiki --model critic=scripted").agent_models
    {'critic': 'scripted'}
    """
    options = build_cell_parser().parse_args(_split(line))
    options.model, options.agent_models = _models(options.model)
    for option in ("var", "tag"):
        _once_each(getattr(options, option), f"--{option}")
    if options.continue_run is not None:
        chosen = [f"--{k}" for k in ("team", "workflow", "template") if getattr(options, k)]
        if chosen:
            raise UsageError(
                f"--continue goes on with the run's own team: drop {', '.join(chosen)}"
                f"\nusage: {CELL_USAGE}"
            )
    return options


def _once_each(pairs: list[tuple[str, str]], option: str) -> None:
    """A key given twice with two values is a mistake, not "the last one wins"."""
    seen: dict[str, str] = {}
    for key, value in pairs:
        if key in seen and seen[key] != value:
            raise UsageError(
                f"{option} {key} given twice ({seen[key]!r}, {value!r})\nusage: {CELL_USAGE}"
            )
        seen[key] = value


def _models(values: list[str]) -> tuple[str | None, dict[str, str]]:
    default: str | None = None
    per_agent: dict[str, str] = {}
    for value in values:
        match = _AGENT_MODEL.match(value)
        if match and ":" not in match[1]:
            per_agent[match[1]] = match[2]
        elif default is not None:
            raise UsageError(
                f"--model given twice for all agents ({default!r}, {value!r})\nusage: {CELL_USAGE}"
            )
        else:
            default = value
    return default, per_agent


def _interpolate(cell: str, namespace: dict[str, Any]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match[1]
        if name not in namespace:
            raise UsageError(
                f"--interpolate: the cell uses {{{name}}}, which is not defined in the notebook"
            )
        return str(namespace[name])

    return _FIELD.sub(fill, cell)
