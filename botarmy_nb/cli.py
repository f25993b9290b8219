"""The ``botarmy-nb`` command line (click): demo, run, runs, show, attach, cancel, resume,
status, db upgrade. The same options, refs and filters as the ``%botarmy`` magics.

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

    wake = threading.Event()
    ended, gone = threading.Event(), threading.Event()

    def on_event(event: Any) -> None:
        try:
            line = _line(event)
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


def _line(event: Any) -> str | None:
    """One event for the terminal (terminal-safe); a message says which model wrote it,
    and the scripted model says that it is one."""
    from botarmy_nb.events import MessageEvent
    from botarmy_nb.render import event_line, terminal_safe

    if not isinstance(event, MessageEvent) or not event.model:
        return event_line(event)
    tag = f"{event.agent}" + (f" ({event.kind})" if event.kind != "text" else "")
    model = str(event.model)
    label = "scripted model" if model.split(":")[0] == "scripted" else model
    head = f"── {tag} [{label}] "
    return terminal_safe(head + "─" * max(0, 64 - len(head)) + f"\n{event.content}")


def _run_and_report(task: str, *, detach: bool = False, **options: Any) -> None:
    """Start a run with :func:`botarmy_nb.api.run` options, then follow it to its end
    (or, with ``detach``, print its id and return at once)."""
    from botarmy_nb import api
    from botarmy_nb.errors import ConfigError

    prepared = api.prepare(task, **options)
    if detach and prepared.executor == "local":
        raise ConfigError(
            "--detach needs a run that outlives this command: use --executor celery "
            "(a local run stops when the command ends)"
        )
    handle = api.submit(prepared)
    if detach:
        _echo(f"run {handle.name} ({handle.id}) {handle.status}")
        _echo(f"follow it with: botarmy-nb attach {handle.id[:8]}")
        return
    _follow(handle)


def _follow(handle: Any) -> None:
    """Stream a run's events (history, then live), then its summary and where its data
    is; exit status 1 unless it completed."""
    from botarmy_nb.settings import get_settings
    from botarmy_nb.store.database import safe_url

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


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {value!r}", param_hint=option)
        if key in out and out[key] != val:
            raise click.BadParameter(
                f"{key} given twice ({out[key]!r}, {val!r})", param_hint=option
            )
        out[key] = val
    return out


def _vars(values: tuple[str, ...]) -> dict[str, str]:
    return _pairs(values, "--var")


def _resolve(ref: str) -> Any:
    """The one run REF names (id, id prefix or a name only one run has) as a handle."""
    from botarmy_nb.handle import Run
    from botarmy_nb.refs import resolve_run
    from botarmy_nb.store.base import open_store

    store = open_store()
    return Run(resolve_run(ref, store).id, store)


_RUN_REF = "RUN is a run id, an id prefix, or a name only one run has."


@main.command()
@click.option("--team", default=None, help="Team name or YAML path (default: writers-room).")
@click.option("--model", default=None, help="Model spec (default: scripted, offline).")
@click.option("--task", default=DEMO_TASK, show_default=True, help="What the team should do.")
def demo(team: str | None, model: str | None, task: str) -> None:
    """Run a bundled team on the embedded defaults (SQLite, in-process, scripted model)."""
    _run_and_report(task, team=team, model=model, name="demo")


@main.command("run")
@click.argument("task")
@click.option("--team", default=None, help="Team name or YAML path (default: writers-room).")
@click.option("--workflow", default=None, help="Run a BMAD-compatible workflow.")
@click.option("--template", default=None, help="Draft one BMAD-compatible template's document.")
@click.option(
    "--model",
    "models",
    multiple=True,
    metavar="SPEC|AGENT=SPEC",
    help="Model for all agents, or AGENT=SPEC for one (repeatable).",
)
@click.option("--var", "variables", multiple=True, metavar="KEY=VALUE", help="Template values.")
@click.option("--max-turns", type=click.IntRange(min=1), default=None, help="Stop after N turns.")
@click.option("--name", default=None, help="A name for the run.")
@click.option("--executor", default=None, help="local or celery (default: BOTARMY_EXECUTOR).")
@click.option("--queue", default=None, help="Celery queue to send the run to.")
@click.option("--priority", type=click.IntRange(0, 9), default=None, help="Queue priority 0-9.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="S",
    help="Stop the run after S seconds.",
)
@click.option(
    "--hitl-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="S",
    help="How long a question to a human waits before its default is taken.",
)
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Label the run.")
@click.option("--bmad", multiple=True, metavar="PATH", help="A BMAD core or pack (repeatable).")
@click.option("--trust-code", is_flag=True, help="Let a component team's tools load (runs code).")
@click.option("--record", default=None, metavar="FILE", help="Write model calls to a cassette.")
@click.option("--replay", default=None, metavar="FILE", help="Answer from a cassette, offline.")
@click.option("--detach", is_flag=True, help="Print the run id and return; do not follow it.")
def run_command(
    task: str,
    models: tuple[str, ...],
    variables: tuple[str, ...],
    tags: tuple[str, ...],
    hitl_timeout: float | None,
    timeout: float | None,
    detach: bool,
    **options: Any,
) -> None:
    """Run TASK with a team, a workflow or a template and stream the conversation."""
    model, agent_models = _models(models)
    _run_and_report(
        task,
        detach=detach,
        model=model,
        agent_models=agent_models,
        variables=_vars(variables),
        tags=_pairs(tags, "--tag"),
        hitl_timeout_s=hitl_timeout,
        timeout_s=timeout,
        **options,
    )


def _models(values: tuple[str, ...]) -> tuple[str | None, dict[str, str]]:
    """``--model SPEC`` for all agents and ``--model AGENT=SPEC`` for one."""
    import re

    default: str | None = None
    per_agent: dict[str, str] = {}
    for value in values:
        match = re.match(r"^([A-Za-z_]\w*)=(.+)$", value)
        if match:
            per_agent[match[1]] = match[2]
        elif default is not None:
            raise click.BadParameter(
                f"given twice for all agents ({default!r}, {value!r})", param_hint="--model"
            )
        else:
            default = value
    return default, per_agent


_STATUSES = click.Choice(["queued", "running", "completed", "failed", "cancelled", "lost"])


@main.command("runs")
@click.option("--status", type=_STATUSES, default=None, help="Only runs with this status.")
@click.option("--team", default=None, help="Only runs of this team.")
@click.option("--workflow", default=None, help="Only runs of this workflow.")
@click.option("--template", default=None, help="Only runs of this template.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Only runs with this tag.")
@click.option("--since", default=None, help="Started at or after: 2026-11-27, 2h, 7d, today.")
@click.option("--until", default=None, help="Started at or before (same forms as --since).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
def runs_command(tags: tuple[str, ...], **filters: Any) -> None:
    """List runs, newest last."""
    from botarmy_nb.refs import RunFilter, select_runs

    records = select_runs(RunFilter.of(tags=_pairs(tags, "--tag"), **filters))
    if not records:
        _echo("no runs match")
        return
    for r in records:
        what = next(
            (f"{k} {getattr(r, k)}" for k in ("team", "workflow", "template") if getattr(r, k)),
            "",
        )
        took = f"{r.duration_s:.1f}s" if r.duration_s is not None else "-"
        _echo(
            f"{r.short_id}  {r.created_at:%Y-%m-%d %H:%M:%S}  {r.status:<9}  "
            f"{took:>7}  {r.name}  ({what})"
        )


@main.command("show")
@click.argument("ref", metavar="RUN")
def show_command(ref: str) -> None:
    """Print a run's transcript and summary. RUN is a run id, an id prefix, or a name
    only one run has."""
    handle = _resolve(ref)
    for event in handle.events:
        line = _line(event)
        if line:
            _echo(line)
    _echo()
    _echo(handle.summary_text())


@main.command("attach")
@click.argument("ref", metavar="RUN")
def attach_command(ref: str) -> None:
    """Follow a run from any process: its history, then live events until it ends.
    RUN is a run id, an id prefix, or a name only one run has."""
    _follow(_resolve(ref))


@main.command("cancel")
@click.argument("ref", metavar="RUN")
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    metavar="S",
    help="Seconds to stop gracefully before a hard stop.",
)
def cancel_command(ref: str, grace: float) -> None:
    """Stop a run wherever it executes (gracefully, then hard). RUN is a run id, an id
    prefix, or a name only one run has."""
    handle = _resolve(ref)
    if handle.done:
        _echo(f"run {handle.name} ({handle.id[:8]}) already ended: {handle.status}")
        return
    _echo(f"run {handle.name} ({handle.id[:8]}): {handle.cancel(grace_s=grace)}")


@main.command("resume")
@click.argument("ref", metavar="RUN")
@click.option("--executor", default=None, help="Where to resume it (default: where it ran).")
@click.option("--detach", is_flag=True, help="Print the run id and return; do not follow it.")
def resume_command(ref: str, executor: str | None, detach: bool) -> None:
    """Resume a lost, failed or cancelled run from its last checkpoint. RUN is a run id,
    an id prefix, or a name only one run has."""
    from botarmy_nb import api

    handle = api.resume(_resolve(ref).id, executor=executor)
    if detach:
        _echo(f"run {handle.name} ({handle.id}) {handle.status}")
        return
    _follow(handle)


@main.command()
def status() -> None:
    """Check the database, Redis, the executor and the model providers."""
    from botarmy_nb.status import collect_status

    checks = collect_status()
    for check in checks:
        _echo(f"{'✔' if check.ok else '✘'} {check.name:<18} {check.detail}")


@main.command(
    "bench",
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench(args: tuple[str, ...]) -> None:
    """Run the benchmark suite (python -m benchmarks; --help lists its options)."""
    try:
        from benchmarks.__main__ import main as run_benchmarks
    except ImportError:
        raise click.ClickException(
            "the benchmark harness lives in the source checkout (benchmarks/): install "
            "botarmy-nb from a clone with 'pip install -e .[dev]' and run this there"
        ) from None
    sys.exit(run_benchmarks(list(args)))


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


from botarmy_nb.analysis.cli import export_command, import_command  # noqa: E402
from botarmy_nb.worker.cli import worker_command  # noqa: E402  (click only; Celery is lazy)

main.add_command(worker_command)
main.add_command(export_command)
main.add_command(import_command)
