"""The ``botarmy-nb`` command line (click): demo, run, status, db upgrade."""

from __future__ import annotations

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
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Group)
@click.version_option(package_name="botarmy-nb")
def main() -> None:
    """botarmy-nb: run teams of LLM agents and keep every message, call and artifact."""


def _stream(handle: Any, out: Any) -> str:
    """Print a run's events as they arrive; returns the final status."""
    from botarmy_nb.events import TERMINAL_STATUSES, StatusEvent
    from botarmy_nb.render import event_line

    done = threading.Event()

    def on_event(event: Any) -> None:
        line = event_line(event)
        if line:
            click.echo(line, file=out)
        if isinstance(event, StatusEvent) and event.status in TERMINAL_STATUSES:
            done.set()

    if handle.subscribe(on_event) is None:
        done.set()
    done.wait()
    return handle.wait().status


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
    status = _stream(handle, sys.stdout)
    click.echo("")
    click.echo(handle.summary_text())
    settings = get_settings()
    click.echo("")
    click.echo(f"run data:   {safe_url(settings.effective_database_url)} (run id {handle.id})")
    click.echo(f"artifacts:  {settings.artifacts_dir / handle.id}")
    click.echo(f"in Python:  import botarmy_nb as ba; ba.get_run('{handle.id[:8]}').messages")
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
        click.echo(f"{'✔' if check.ok else '✘'} {check.name:<18} {check.detail}")


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
        click.echo(f"{safe_url(url)}: schema {before or 'empty'} → {head_revision(engine)}")
    finally:
        engine.dispose()
