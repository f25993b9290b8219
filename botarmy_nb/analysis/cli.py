"""``botarmy-nb export`` and ``botarmy-nb import``: click commands that only parse and
call the bundle functions (wired into the main group by botarmy_nb/cli.py)."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["export_command", "import_command"]


def _echo(text: str) -> None:
    from botarmy_nb.render import terminal_safe

    click.echo(terminal_safe(text))


@click.command("export")
@click.argument("run_ref", metavar="RUN")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: <run name>-<short id>.botarmy.zip, or .md with --markdown).",
)
@click.option(
    "--markdown", is_flag=True, help="Write the transcript and artifacts as Markdown instead."
)
@click.option("--database-url", help="Read from this database instead.")
def export_command(
    run_ref: str, output: Path | None, markdown: bool, database_url: str | None
) -> None:
    """Write RUN (id, id prefix or name) as one bundle file: its request, events, model
    calls, artifacts and cassette, without secrets; `botarmy-nb import` restores it."""
    from botarmy_nb.handle import Run
    from botarmy_nb.store.base import open_store

    store = open_store(database_url)
    run = Run(store.get_run(run_ref).id, store)
    if markdown:
        record = run.record
        target = output or Path(f"{record.name}-{record.short_id}.md")
        run.to_markdown(target)
    else:
        target = run.export(output)
    _echo(f"exported run {run.id[:8]} to {target}")


@click.command("import")
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--database-url", help="Import into this database instead.")
def import_command(bundle: Path, database_url: str | None) -> None:
    """Restore a run bundle into the database, ids kept. Importing the same bundle again
    adds nothing; a corrupt or foreign file is refused and nothing is written."""
    from botarmy_nb.analysis.bundle import import_run_file
    from botarmy_nb.store.base import open_store

    result = import_run_file(bundle, open_store(database_url))
    added = {k: v for k, v in result.added.items() if v}
    if result.created or added:
        counts = ", ".join(f"{v} {k}" for k, v in added.items()) or "no rows"
        _echo(f"imported run {result.run_id[:8]}: {counts}")
    else:
        _echo(f"run {result.run_id[:8]} was already here: nothing added")
    if result.cassette is not None:
        _echo(f"cassette: {result.cassette} (replay it with --replay)")
