"""``%%botarmy`` and ``%botarmy``: parse, validate, call the API, display. Nothing more."""

from __future__ import annotations

import argparse
import difflib
import inspect
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.display import display

from botarmy_nb.errors import RunError
from botarmy_nb.notebook.options import (
    CELL_USAGE,
    LINE_COMMANDS,
    LINE_USAGE,
    RUN_REF,
    RUNS_USAGE,
    _HelpShown,
    _interpolate,
    _Parser,
    _positive,
    _split,
    _var,
    build_cell_parser,
    parse_cell_options,
)

__all__ = ["BotArmyMagics", "RunDidNotComplete", "build_cell_parser", "parse_cell_options"]


class RunDidNotComplete(RunError):
    """``%%botarmy --wait``: the run ended failed, cancelled or lost. Raised so that Run
    All stops at this cell; the notebook shows the one line, not a traceback."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


@magics_class
class BotArmyMagics(Magics):
    """The botarmy magics; each one is a thin shell over :mod:`botarmy_nb.api`."""

    @cell_magic
    def botarmy(self, line: str, cell: str) -> Any:
        """Run an agent team on the cell body. ``%%botarmy --help`` lists the options."""
        from botarmy_nb.errors import BotArmyError

        try:
            options = parse_cell_options(line)
        except _HelpShown:
            print(build_cell_parser().format_help())
            return None
        cell = cell.strip()  # the cell's trailing newline is not part of the task
        task = _interpolate(cell, self.shell.user_ns) if options.interpolate else cell
        view = None
        if options.continue_run is None:
            # shown before the run is validated and registered, which on a new kernel waits
            # for the imports the warm-up started: the cell shows its view at once
            view = self._early_view(options)
        try:
            handle = self._submit(task, options)
        except BaseException as exc:
            if view is not None:
                view.discard()
            if isinstance(exc, BotArmyError):
                raise UsageError(str(exc)) from None
            raise
        self._show(handle, wait=options.wait, view=view)
        # The handle is in _botarmy_run; as the cell's value its repr would be a racy
        # snapshot (running or done), or with --wait a second copy of the summary.
        return None

    def _submit(self, task: str, options: argparse.Namespace) -> Any:
        from botarmy_nb import api

        if options.continue_run is not None:
            return self._continue(task, options)
        handle = api.run(
            task,
            team=options.team,
            workflow=options.workflow,
            template=options.template,
            model=options.model,
            agent_models=options.agent_models,
            variables=dict(options.var),
            executor=options.executor,
            name=options.name,
            max_turns=options.max_turns,
            record=options.record,
            replay=options.replay,
            queue=options.queue,
            priority=options.priority,
            timeout_s=options.timeout,
            tags=dict(options.tag),
            hitl_timeout_s=options.hitl_timeout,
            bmad=list(options.bmad) or None,
            trust_code=options.trust_code,
        )
        self.shell.user_ns["_botarmy_run"] = handle
        return handle

    def _continue(self, task: str, options: argparse.Namespace) -> Any:
        """``--continue RUN``: the API's continuation, when this version has one."""
        from botarmy_nb import api
        from botarmy_nb.refs import resolve_run

        go_on = getattr(api, "continue_run", None) or getattr(api, "reply", None)
        if go_on is None:
            raise UsageError(
                "--continue is not available yet in this version of botarmy-nb: start a new "
                f"run with the conversation so far in the task\nusage: {CELL_USAGE}"
            )
        given = {
            "max_turns": options.max_turns,
            "executor": options.executor,
            "hitl_timeout_s": options.hitl_timeout,
        }
        extra = {key: value for key, value in given.items() if value is not None}
        accepted = inspect.signature(go_on).parameters.values()
        takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted)
        names = {p.name for p in accepted}
        refused = [
            f"--{k.removesuffix('_s').replace('_', '-')}"
            for k in extra
            if k not in names and not takes_all
        ]
        refused += [
            option
            for option, value in (
                ("--model", options.model or options.agent_models),
                ("--var", options.var),
                ("--tag", options.tag),
                ("--name", options.name),
                ("--queue", options.queue),
                ("--priority", options.priority),
                ("--timeout", options.timeout),
                ("--record", options.record),
                ("--replay", options.replay),
            )
            if value
        ]
        if refused:  # a setting the continuation would silently drop
            raise UsageError(
                f"--continue goes on with the run's own settings: drop {', '.join(refused)}"
                f"\nusage: {CELL_USAGE}"
            )
        record = resolve_run(options.continue_run)
        handle = go_on(record.id, task, **extra)
        self.shell.user_ns["_botarmy_run"] = handle
        return handle

    @staticmethod
    def _early_view(options: argparse.Namespace) -> Any:
        """The run view, shown before its run exists, named as the run will be."""
        from botarmy_nb.notebook.live import LiveView
        from botarmy_nb.specs import DEFAULT_TEAM

        name = options.name or options.workflow or options.template or options.team or DEFAULT_TEAM
        view = LiveView(name=name)
        view.display()
        return view

    def _show(self, handle: Any, *, wait: bool, view: Any = None) -> None:
        """The run's live view; with ``wait``, block until it ended and raise unless it
        completed (so Run All stops at a failed run)."""
        from botarmy_nb.notebook.live import LiveView

        if view is None:
            view = LiveView(handle).start()
            view.display()
        else:
            view.attach(handle)
        if not wait:
            return
        view.join()  # the transcript and summary are in the cell before it ends
        handle.wait()
        record = handle.record
        if record.status != "completed":
            why = record.error or record.stop_reason or "no reason recorded"
            raise RunDidNotComplete(f"run {record.name} ({record.short_id}) {record.status}: {why}")

    @line_magic("botarmy")
    def botarmy_line(self, line: str) -> Any:
        """``%botarmy COMMAND`` — runs, show, attach, cancel, resume, panel, builder, …"""
        from botarmy_nb.errors import BotArmyError

        words = _split(line, usage=LINE_USAGE)
        if not words:
            words = ["help"]
        command, args = words[0], words[1:]
        handler = getattr(self, f"_cmd_{command}", None)
        if handler is None or command not in LINE_COMMANDS:
            close = difflib.get_close_matches(command, LINE_COMMANDS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise UsageError(f"unknown command '{command}'{hint}\n{self._help_text()}")
        try:
            return handler(args)
        except _HelpShown:
            return None
        except BotArmyError as exc:
            usage = self._usage(command)
            raise UsageError(f"{exc}\nusage: {usage}") from None

    # -- line commands ------------------------------------------------------------------

    @staticmethod
    def _usage(command: str) -> str:
        if command == "runs":
            return RUNS_USAGE
        if command in ("show", "attach", "cancel", "resume"):
            return f"%botarmy {command} RUN  ({RUN_REF})"
        return f"%botarmy {command}"

    @staticmethod
    def _help_text() -> str:
        lines = [f"usage: {LINE_USAGE}", ""]
        lines += [f"  {name:<9} {text}" for name, text in LINE_COMMANDS.items()]
        lines += ["", f"{RUN_REF}; a name several runs share is refused with the list."]
        return "\n".join(lines)

    def _cmd_help(self, args: list[str]) -> None:
        print(self._help_text())
        print()
        print("The cell magic (the cell body is the task):")
        print(build_cell_parser().format_help())

    def _no_args(self, args: list[str], command: str) -> None:
        if args:
            raise UsageError(f"{command} takes no arguments\nusage: {self._usage(command)}")

    def _one_run(self, args: list[str], command: str) -> Any:
        """The handle of the one run ``args`` names (refs.resolve_run's rules)."""
        from botarmy_nb.handle import Run
        from botarmy_nb.refs import resolve_run
        from botarmy_nb.store.base import open_store

        if len(args) != 1 or args[0].startswith("-"):
            raise UsageError(f"usage: {self._usage(command)}")
        store = open_store()
        return Run(resolve_run(args[0], store).id, store)

    def _cmd_runs(self, args: list[str]) -> Any:
        from botarmy_nb.refs import RunFilter

        parser = _Parser(prog="%botarmy runs", usage=RUNS_USAGE)
        parser.add_argument("--status")
        for column in ("team", "workflow", "template"):
            parser.add_argument(f"--{column}")
        parser.add_argument("--tag", action="append", type=_var, default=[], metavar="KEY=VALUE")
        parser.add_argument("--since", help="2026-11-27, 2026-11-27T09:30, today, 2h, 7d")
        parser.add_argument("--until", help="as --since")
        parser.add_argument("--limit", type=_positive, default=None)
        parser.add_argument("--table", action="store_true", help="a table, not the browser")
        options = parser.parse_args(args)
        filters = RunFilter.of(
            status=options.status,
            team=options.team,
            workflow=options.workflow,
            template=options.template,
            tags=dict(options.tag),
            since=options.since,
            until=options.until,
            limit=options.limit,
        )
        if options.table or getattr(self.shell, "kernel", None) is None:
            from botarmy_nb.notebook.browser import runs_table

            # no front end to draw widgets (a terminal, a script): the plain table
            return runs_table(RunFilter(**{**vars(filters), "limit": filters.limit or 20}))
        from botarmy_nb.notebook.browser import RunsBrowser

        return RunsBrowser(filters)

    def _cmd_show(self, args: list[str]) -> None:
        from botarmy_nb.render import event_html

        handle = self._one_run(args, "show")
        palette: dict[str, str] = {}
        transcript = "".join(b for b in (event_html(e, palette) for e in handle.events) if b)
        display(
            {"text/html": handle._repr_html_() + transcript, "text/plain": handle.summary_text()},
            raw=True,
        )

    def _cmd_attach(self, args: list[str]) -> None:
        self._show(self._one_run(args, "attach"), wait=False)

    def _cmd_cancel(self, args: list[str]) -> None:
        handle = self._one_run(args, "cancel")
        if handle.done:
            print(f"run {handle.name} ({handle.id[:8]}) already ended: {handle.status}")
            return
        status = handle.cancel()
        print(f"run {handle.name} ({handle.id[:8]}): {status}")

    def _cmd_resume(self, args: list[str]) -> None:
        from botarmy_nb import api

        handle = api.resume(self._one_run(args, "resume").id)
        self.shell.user_ns["_botarmy_run"] = handle
        self._show(handle, wait=False)

    def _cmd_panel(self, args: list[str]) -> Any:
        from botarmy_nb.notebook.panel import panel

        self._no_args(args, "panel")
        return panel(shell=self.shell)

    def _cmd_builder(self, args: list[str]) -> Any:
        from botarmy_nb.notebook.builder import builder

        self._no_args(args, "builder")
        return builder()

    def _cmd_teams(self, args: list[str]) -> Any:
        from botarmy_nb.notebook.catalog import teams_frame

        self._no_args(args, "teams")
        return teams_frame()

    @staticmethod
    def _show_problems() -> None:
        """Files of the BMAD search path that did not load: listed, never hidden."""
        import html

        from botarmy_nb.notebook.catalog import core_problems

        problems = core_problems()
        if problems:
            head = f"⚠ {len(problems)} file(s) did not load:"
            items = "".join(f"<li><code>{html.escape(p)}</code></li>" for p in problems)
            bundle = {
                "text/html": f"<div>{html.escape(head)}<ul>{items}</ul></div>",
                "text/plain": "\n".join([head, *(f"  {p}" for p in problems)]),
            }
            display(bundle, raw=True)

    def _cmd_workflows(self, args: list[str]) -> Any:
        from botarmy_nb.notebook.catalog import workflow_steps_frame, workflows_frame

        if not args:
            self._show_problems()
            return workflows_frame()
        if len(args) > 1:
            raise UsageError("usage: %botarmy workflows [NAME]")
        steps, diagram = workflow_steps_frame(args[0])
        display(steps)
        if diagram:
            from IPython.display import Markdown

            from botarmy_nb.render import mermaid_markdown

            display(Markdown(mermaid_markdown(diagram)))
        return None

    def _cmd_templates(self, args: list[str]) -> Any:
        from botarmy_nb.notebook.catalog import templates_frame

        self._no_args(args, "templates")
        self._show_problems()
        return templates_frame()

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
