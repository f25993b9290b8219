"""The sweep progress bar for notebooks (ipywidgets); the sweep itself knows nothing of it."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botarmy_nb.analysis.sweep import Sweep

__all__ = ["show_progress"]


def show_progress(sweep: Sweep) -> None:
    """Display a bar that fills as the sweep's runs end. Its text/plain stays one stable
    line, so a saved notebook re-runs identically under nbval."""
    import ipywidgets as widgets
    from IPython.display import display

    total = len(sweep.points)
    bar = widgets.IntProgress(value=sweep.finished, min=0, max=total, bar_style="info")
    label = widgets.HTML()
    box = widgets.HBox([bar, label])

    def update(current: Sweep) -> None:
        done = min(current.finished, total)
        bar.value = done
        failed = len(current._errors)
        label.value = html.escape(
            f"{current.name}: {done}/{total} runs ended" + (f", {failed} failed" if failed else "")
        )
        if done >= total:
            bar.bar_style = "danger" if failed else "success"

    update(sweep)
    sweep.subscribe(update)
    bundle = dict(box._repr_mimebundle_() or {})
    bundle["text/plain"] = f"botarmy sweep {sweep.name}: {total} runs"
    bundle["text/html"] = (
        f"<i>botarmy sweep {html.escape(sweep.name)}: {total} runs (progress shows while the"
        " kernel runs it; its results are in the cells below)</i>"
    )
    display(bundle, raw=True)
