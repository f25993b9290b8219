"""The ``botarmy-nb worker`` command (wired into ``botarmy_nb.cli``)."""

from __future__ import annotations

import click

__all__ = ["worker_command"]


@click.command("worker")
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(min=1),
    default=None,
    help="Runs executed at once (threads; default BOTARMY_WORKER_CONCURRENCY, 8).",
)
@click.option(
    "--queues",
    "-Q",
    multiple=True,
    metavar="NAME[,NAME]",
    help="Queues to take runs from (default BOTARMY_QUEUE, 'botarmy').",
)
@click.option(
    "--loglevel",
    "-l",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@click.option("--name", "-n", default=None, help="Worker node name (default botarmy-PID@host).")
def worker_command(
    concurrency: int | None, queues: tuple[str, ...], loglevel: str, name: str | None
) -> None:
    """Execute queued runs (BOTARMY_REDIS_URL broker, BOTARMY_DATABASE_URL store) until
    stopped; runs whose worker died are resumed by the others."""
    from botarmy_nb.errors import BotArmyError
    from botarmy_nb.render import terminal_safe
    from botarmy_nb.worker.service import serve

    try:
        serve(concurrency=concurrency, queues=queues, loglevel=loglevel.upper(), name=name)
    except BotArmyError as exc:
        raise click.ClickException(terminal_safe(str(exc))) from None
