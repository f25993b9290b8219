"""The ``botarmy-nb`` command line (click): demo, run, status, db upgrade.

Everything printed passes through ``terminal_safe``: model output, names from YAML files
and error messages reach terminals and pipes without escape sequences.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

import click

from botarmy_nb.errors import BotArmyError

DEMO_TASK = "Write a one-page product brief for a team wiki that works offline."


class _Group(click.Group):
    """Turns BotArmyErrors into one clear line and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BotArmyError as exc:
            from botarmy_nb.render import terminal_safe

            raise click.ClickException(terminal_safe(str(exc))) from None


def _echo(text: str = "", file: Any = None) -> None:
    """click.echo for text that may hold what a model, a YAML file or a server wrote."""
    from botarmy_nb.render import terminal_safe  # lazily: --help stays instant

    click.echo(terminal_safe(text), file=file)


@click.group(cls=_Group)
@click.version_option(package_name="botarmy-nb")
def main() -> None:
    """botarmy-nb: run teams of LLM agents and keep every message, call and artifact."""


def _stream(handle: Any, out: Any) -> str:
    """Print a run's events as they arrive; returns the final status.

    If the reader goes away (``botarmy-nb run … | head``), the run is stopped as SIGPIPE
    would stop a plain program, and BrokenPipeError is raised once it has ended.
    """
    from botarmy_nb.events import TERMINAL_STATUSES, StatusEvent
    from botarmy_nb.render import event_line  # already terminal-safe

    wake = threading.Event()
    ended, gone = threading.Event(), threading.Event()

    def on_event(event: Any) -> None:
        try:
            line = event_line(event)
            if line and not gone.is_set():
                _echo(line, file=out)
        except BrokenPipeError:
            gone.set()
            wake.set()
        finally:  # whatever printing did, the end of the run must wake the command
            if isinstance(event, StatusEvent) and event.status in TERMINAL_STATUSES:
                ended.set()
                wake.set()

    if handle.subscribe(on_event) is None:
        ended.set()
        wake.set()
    wake.wait()
    if gone.is_set() and not ended.is_set():
        handle.cancel()  # nobody reads on: stop spending tokens
    status = handle.wait().status
    if gone.is_set():
        raise BrokenPipeError("the reader of the output went away")
    return str(status)


def _run_and_report(
    task: str,
    *,
    record: str | None = None,
    replay: str | None = None,
    team: str | None,
    model: str | None,
    variables: dict[str, str],
    max_turns: int | None,
    name: str | None,
) -> None:
    from botarmy_nb import api
    from botarmy_nb.settings import get_settings
    from botarmy_nb.store.database import safe_url

    handle = api.run(
        task,
        team=team,
        model=model,
        variables=variables,
        max_turns=max_turns,
        name=name,
        record=record,
        replay=replay,
    )
    try:
        status = _stream(handle, sys.stdout)
        _echo()
        _echo(handle.summary_text())
        settings = get_settings()
        _echo()
        _echo(f"run data:   {safe_url(settings.effective_database_url)} (run id {handle.id})")
        _echo(f"artifacts:  {settings.artifacts_dir / handle.id}")
        _echo(f"in Python:  import botarmy_nb as ba; ba.get_run('{handle.id[:8]}').messages")
        sys.stdout.flush()
    except BrokenPipeError:
        # the interpreter flushes stdout again on exit: point it at /dev/null first
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None
    if status != "completed":
        raise SystemExit(1)


def _vars(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {value!r}", param_hint="--var")
        out[key] = val
    return out


@main.command()
@click.option("--team", default=None, help="Team name or YAML path (default: writers-room).")
@click.option("--model", default=None, help="Model spec (default: scripted, offline).")
@click.option("--task", default=DEMO_TASK, show_default=True, help="What the team should do.")
def demo(team: str | None, model: str | None, task: str) -> None:
    """Run a bundled team on the embedded defaults (SQLite, in-process, scripted model)."""
    _run_and_report(task, team=team, model=model, variables={}, max_turns=None, name="demo")


@main.command("run")
@click.argument("task")
@click.option("--team", default=None, help="Team name or YAML path.")
@click.option("--model", default=None, help="Model spec, e.g. scripted or openai:gpt-4o-mini.")
@click.option("--var", "variables", multiple=True, metavar="KEY=VALUE", help="Template values.")
@click.option("--max-turns", type=click.IntRange(min=1), default=None)
@click.option("--name", default=None, help="A name for the run.")
@click.option("--record", default=None, metavar="FILE", help="Write model calls to a cassette.")
@click.option("--replay", default=None, metavar="FILE", help="Answer from a cassette, offline.")
def run_command(
    task: str,
    team: str | None,
    model: str | None,
    variables: tuple[str, ...],
    max_turns: int | None,
    name: str | None,
    record: str | None,
    replay: str | None,
) -> None:
    """Run TASK with a team and stream the conversation."""
    _run_and_report(
        task,
        team=team,
        model=model,
        variables=_vars(variables),
        max_turns=max_turns,
        name=name,
        record=record,
        replay=replay,
    )


@main.command()
def status() -> None:
    """Check the database, Redis, the executor and the model providers."""
    from botarmy_nb.status import collect_status

    checks = collect_status()
    for check in checks:
        _echo(f"{'✔' if check.ok else '✘'} {check.name:<18} {check.detail}")


@main.group()
def db() -> None:
    """Manage the run database schema."""


@db.command("upgrade")
@click.option("--url", default=None, help="Database URL (default: BOTARMY_DATABASE_URL).")
def db_upgrade(url: str | None) -> None:
    """Create or upgrade the database schema to this version's head."""
    from botarmy_nb.settings import get_settings
    from botarmy_nb.store.database import create_store_engine, safe_url
    from botarmy_nb.store.migrate import current_revision, head_revision, upgrade

    url = url or get_settings().effective_database_url
    engine = create_store_engine(url)
    try:
        before = current_revision(engine)
        upgrade(engine)
        _echo(f"{safe_url(url)}: schema {before or 'empty'} → {head_revision(engine)}")
    finally:
        engine.dispose()
