"""Sharing one run: export it as a bundle file, import a bundle, or write its transcript
and documents as one Markdown document."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botarmy_nb.handle import Run
    from botarmy_nb.store.base import RunStore
    from botarmy_nb.store.bundles import ImportResult

__all__ = ["export_run", "import_run", "import_run_file", "to_markdown"]

SUFFIX = ".botarmy.zip"


def export_run(run: Run, path: str | Path | None = None) -> Path:
    """Write ``run`` as one bundle file (default ``<run name>-<short id>.botarmy.zip``)."""
    from botarmy_nb.store.bundles import export_run as export

    record = run.record
    target = Path(path) if path is not None else Path(f"{record.name}-{record.short_id}{SUFFIX}")
    return export(run._store, run.id, target)


def import_run_file(
    path: str | Path, store: RunStore | None = None, *, cassette_dir: Path | None = None
) -> ImportResult:
    """Import a bundle into ``store`` (default: the configured database)."""
    from botarmy_nb.store.base import open_store
    from botarmy_nb.store.bundles import import_bundle, read_bundle

    bundle = read_bundle(path)  # checked completely before anything is written
    return import_bundle(store or open_store(), bundle, cassette_dir=cassette_dir)


def import_run(path: str | Path, *, database_url: str | None = None) -> Run:
    """Restore a run exported with ``run.export(path)`` (or ``botarmy-nb export``) into
    this database, ids kept; importing it again adds nothing. Returns its handle.

    A corrupt, foreign or newer bundle raises BundleError saying what is wrong, and
    nothing is written.
    """
    from botarmy_nb.handle import Run
    from botarmy_nb.store.base import open_store

    store = open_store(database_url)
    result = import_run_file(path, store)
    return Run(result.run_id, store)


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in ``text`` (it cannot close early)."""
    import re

    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _model_label(model: str) -> str:
    from botarmy_nb.render import SCRIPTED_NOTE

    return f"{model} [{SCRIPTED_NOTE}]" if model.startswith("scripted") else model


def to_markdown(run: Run) -> str:
    """The run as a readable Markdown document: what ran, the totals, the transcript (each
    message under its agent and model), and the latest version of every artifact."""
    import pandas as pd

    from botarmy_nb.analysis.summary import totals

    record = run.record
    calls = run.model_calls
    total = totals(calls)
    what = (
        f"workflow `{record.workflow}`"
        if record.workflow
        else f"template `{record.template}`"
        if record.template
        else f"team `{record.team or '-'}`"
    )

    def shown(value: object, unit: str = "") -> str:
        return "unknown" if value is None else f"{value}{unit}"

    cost = total["cost_usd"]
    duration = None if record.duration_s is None else round(record.duration_s, 2)
    lines = [
        f"# {record.name}",
        "",
        "| | |",
        "|---|---|",
        f"| run | `{record.id}` |",
        f"| status | {record.status} |",
        f"| what | {what} |",
        f"| model | {_model_label(record.model)} |",
        f"| created | {record.created_at:%Y-%m-%d %H:%M:%S} UTC |",
        f"| duration | {shown(duration, ' s')} |",
        f"| model calls | {total['attempts']} |",
        f"| tokens | {shown(total['total_tokens'])} |",
        f"| cost | {shown(None if cost is None else round(cost, 6), ' USD')} |",
    ]
    if record.tags:
        lines.append("| tags | " + ", ".join(f"{k}={v}" for k, v in record.tags.items()) + " |")
    if record.stop_reason:
        lines.append(f"| stop reason | {record.stop_reason.replace('|', '/')} |")
    lines += ["", "## Task", "", record.task.strip(), "", "## Transcript", ""]
    for m in run.messages.itertuples(index=False):
        model = "" if pd.isna(m.model) else f" · {_model_label(str(m.model))}"
        kind = "" if m.type == "text" else f" ({m.type})"
        step = "" if pd.isna(m.step) else f" · step {m.step}"
        quoted = "\n".join(f"> {line}".rstrip() for line in str(m.content).strip().splitlines())
        lines += [f"### {m.agent}{kind}{model}{step}", "", quoted, ""]
    artifacts = run.artifacts.drop_duplicates("name", keep="last")
    if len(artifacts):
        lines += ["## Artifacts", ""]
        for a in artifacts.itertuples(index=False):
            fence = _fence(a.content)
            lines += [
                f"### {a.name}",
                "",
                f"{fence}{'markdown' if a.format == 'markdown' else ''}",
                str(a.content).rstrip(),
                fence,
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"
