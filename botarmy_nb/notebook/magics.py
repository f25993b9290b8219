"""``%%botarmy`` and ``%botarmy``: parse, validate, call the API, display. Nothing more."""

from __future__ import annotations

import argparse
import re
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.display import display

__all__ = ["BotArmyMagics", "build_cell_parser"]

CELL_USAGE = (
    "%%botarmy [--team NAME|PATH | --workflow NAME | --template NAME] "
    "[--model SPEC|AGENT=SPEC]... [--var KEY=VALUE]... "
    "[--max-turns N] [--name NAME] [--executor local|celery] [--wait] [--interpolate] "
    "[--record FILE | --replay FILE]"
)
LINE_COMMANDS = {
    "runs": "list recent runs (--status S, --limit N)",
    "show": "RUN — summary and transcript of a run (id, id prefix or name)",
    "attach": "RUN — live view of a run still going in this kernel, else its summary",
    "cancel": "RUN — stop a run (gracefully, then hard)",
    "teams": "list the teams --team can name",
    "workflows": "[NAME] — BMAD-compatible workflows; with NAME its steps and flow diagram",
    "templates": "BMAD-compatible templates with their variables",
    "status": "database, Redis, executor and providers, each ✔/✘ with why",
    "help": "this help",
}
_VAR = re.compile(r"^([A-Za-z_][\w.-]*)=(.*)$", re.S)
_AGENT_MODEL = re.compile(r"^([A-Za-z_]\w*)=(.+)$")
_FIELD = re.compile(r"(?<!\{)\{([A-Za-z_]\w*)\}(?!\})")


class _Parser(argparse.ArgumentParser):
    """argparse that reports problems as IPython UsageErrors carrying the usage line."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise UsageError(f"{message}\nusage: {self.usage}")

    def exit(self, status: int = 0, message: str | None = None) -> Any:  # type: ignore[override]
        raise _HelpShown()


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
    parser.add_argument("--max-turns", type=_positive, help="stop after N agent turns")
    parser.add_argument("--name", help="a name for the run (default: the team's name)")
    parser.add_argument("--executor", choices=["local", "celery"], default=None)
    parser.add_argument("--wait", action="store_true", help="block until the run ends")
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


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"cannot parse options: {exc}\nusage: {CELL_USAGE}") from None


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


@magics_class
class BotArmyMagics(Magics):
    """The botarmy magics; each one is a thin shell over :mod:`botarmy_nb.api`."""

    @cell_magic
    def botarmy(self, line: str, cell: str) -> Any:
        """Run an agent team on the cell body. ``%%botarmy --help`` lists the options."""
        from botarmy_nb.errors import BotArmyError

        parser = build_cell_parser()
        try:
            options = parser.parse_args(_split(line))
        except _HelpShown:
            print(parser.format_help())
            return None
        cell = cell.strip()  # the cell's trailing newline is not part of the task
        task = _interpolate(cell, self.shell.user_ns) if options.interpolate else cell
        model, agent_models = _models(options.model)
        try:
            return self._start(task, options, model, agent_models)
        except BotArmyError as exc:
            raise UsageError(str(exc)) from None

    def _start(
        self,
        task: str,
        options: argparse.Namespace,
        model: str | None,
        agent_models: dict[str, str],
    ) -> Any:
        from botarmy_nb import api
        from botarmy_nb.notebook.live import LiveView

        handle = api.run(
            task,
            team=options.team,
            workflow=options.workflow,
            template=options.template,
            model=model,
            agent_models=agent_models,
            variables=dict(options.var),
            executor=options.executor,
            name=options.name,
            max_turns=options.max_turns,
            record=options.record,
            replay=options.replay,
        )
        self.shell.user_ns["_botarmy_run"] = handle
        view = LiveView(handle).start()
        display(view.mimebundle(), raw=True)
        if not options.wait:
            # The handle is in _botarmy_run; as the cell's value its repr would be a racy
            # snapshot (running or done), which no saved notebook could reproduce.
            return None
        return handle.wait()

    @line_magic("botarmy")
    def botarmy_line(self, line: str) -> Any:
        """``%botarmy COMMAND`` — runs, show, attach, cancel, teams, status, help."""
        from botarmy_nb.errors import BotArmyError

        words = _split(line)
        if not words:
            words = ["help"]
        command, args = words[0], words[1:]
        handler = getattr(self, f"_cmd_{command}", None)
        if handler is None or command not in LINE_COMMANDS:
            raise UsageError(f"unknown command '{command}'\n{self._help_text()}")
        try:
            return handler(args)
        except _HelpShown:
            return None
        except BotArmyError as exc:
            raise UsageError(str(exc)) from None

    # -- line commands ------------------------------------------------------------------

    @staticmethod
    def _help_text() -> str:
        lines = ["usage: %botarmy COMMAND [ARGS]", ""]
        lines += [f"  {name:<8} {text}" for name, text in LINE_COMMANDS.items()]
        lines += ["", f"usage: {CELL_USAGE}", "  (the cell body is the task)"]
        return "\n".join(lines)

    def _cmd_help(self, args: list[str]) -> None:
        print(self._help_text())
        print()
        print(build_cell_parser().format_help())

    @staticmethod
    def _one_run(args: list[str], command: str) -> str:
        if len(args) != 1:
            raise UsageError(f"usage: %botarmy {command} RUN  (a run id, id prefix or name)")
        return args[0]

    def _cmd_runs(self, args: list[str]) -> Any:
        from botarmy_nb import api

        parser = _Parser(prog="%botarmy runs", usage="%%botarmy runs [--status S] [--limit N]")
        parser.add_argument("--status")
        parser.add_argument("--limit", type=_positive, default=20)
        options = parser.parse_args(args)
        frame = api.runs(**({"status": options.status} if options.status else {}))
        columns = ["id", "name", "status", "team", "model", "created_at", "duration_s"]
        frame = frame[columns].tail(options.limit).copy()
        frame["id"] = frame["id"].str.slice(0, 8)
        return frame

    def _cmd_show(self, args: list[str]) -> None:
        from botarmy_nb import api
        from botarmy_nb.render import event_html

        handle = api.get_run(self._one_run(args, "show"))
        palette: dict[str, str] = {}
        transcript = "".join(b for b in (event_html(e, palette) for e in handle.events) if b)
        display(
            {"text/html": handle._repr_html_() + transcript, "text/plain": handle.summary_text()},
            raw=True,
        )

    def _cmd_attach(self, args: list[str]) -> Any:
        from botarmy_nb import api
        from botarmy_nb.notebook.live import LiveView

        handle = api.get_run(self._one_run(args, "attach"))
        display(LiveView(handle).start().mimebundle(), raw=True)
        return None

    def _cmd_cancel(self, args: list[str]) -> None:
        from botarmy_nb import api

        handle = api.get_run(self._one_run(args, "cancel"))
        if handle.done:
            print(f"run {handle.name} ({handle.id[:8]}) already ended: {handle.status}")
            return
        status = handle.cancel()
        print(f"run {handle.name} ({handle.id[:8]}): {status}")

    def _cmd_teams(self, args: list[str]) -> Any:
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
        return pd.DataFrame(rows)

    def _cmd_workflows(self, args: list[str]) -> Any:
        import pandas as pd

        from botarmy_nb.bmad.loader import load_bmad

        core = load_bmad()
        if not args:
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
                ]
            )
        from botarmy_nb.errors import NotFoundError, did_you_mean

        name = args[0].removesuffix(".yaml")
        if name not in core.workflows:
            raise NotFoundError(f"unknown workflow '{name}'" + did_you_mean(name, core.workflows))
        workflow = core.workflows[name]
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
        display(steps)
        if workflow.flow_diagram:
            from IPython.display import Markdown

            from botarmy_nb.render import mermaid_markdown

            display(Markdown(mermaid_markdown(workflow.flow_diagram)))
        return None

    def _cmd_templates(self, args: list[str]) -> Any:
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
            ]
        )

    def _cmd_status(self, args: list[str]) -> None:
        from botarmy_nb.status import collect_status

        checks = collect_status()
        text = "\n".join(f"{'✔' if c.ok else '✘'} {c.name:<10} {c.detail}" for c in checks)
        rows = "".join(
            f"<tr><td>{'✔' if c.ok else '✘'}</td><td>{c.name}</td><td>{_esc(c.detail)}</td></tr>"
            for c in checks
        )
        display({"text/plain": text, "text/html": f"<table>{rows}</table>"}, raw=True)


def _esc(text: str) -> str:
    import html

    return html.escape(text)
