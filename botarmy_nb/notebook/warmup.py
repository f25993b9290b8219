"""First-cell latency: ``%load_ext`` starts importing what the first ``%%botarmy`` needs,
on a background thread, so that cell shows its view at once instead of after 1–3 s of
imports. Never blocks, never raises: a failed warm-up only means a slower first cell."""

from __future__ import annotations

import importlib
import threading

__all__ = ["start_warmup"]

# In the order the first cell needs them: the view it shows at once (ipywidgets,
# anywidget, markdown-it, nh3), then the run behind it: the store (SQLAlchemy, pydantic),
# the engine (AutoGen), the executor. Never pandas: it decides once, when first imported,
# whether it is in a terminal, by looking for ``get_ipython`` in builtins, which a kernel
# only puts there while a cell executes. Imported from this thread between cells it would
# believe it is in a terminal and cut every DataFrame the user shows to 80 columns.
MODULES = (
    "botarmy_nb.notebook.live",
    "botarmy_nb.notebook.feed",
    "botarmy_nb.notebook.controls",
    "botarmy_nb.api",
    "botarmy_nb.specs.catalog",
    "botarmy_nb.store.sql",
    "botarmy_nb.engine.build",
    "botarmy_nb.engine.runner",
    "botarmy_nb.executors.local",
)

_started: threading.Thread | None = None
_lock = threading.Lock()


def _warm() -> None:
    from botarmy_nb.log import get_logger

    log = get_logger("notebook")
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception:
            log.debug("warm-up import failed", module=name, exc_info=True)
    try:  # the embedded database's schema check, and the team catalogue
        from botarmy_nb.render import markdown_html
        from botarmy_nb.specs.catalog import list_teams
        from botarmy_nb.store.base import open_store

        markdown_html("*warm*")
        open_store()
        list_teams()
    except Exception:
        log.debug("warm-up failed", exc_info=True)


def start_warmup() -> threading.Thread:
    """Start the warm-up once per process; returns its (daemon) thread."""
    global _started
    with _lock:
        if _started is None:
            _started = threading.Thread(target=_warm, name="botarmy-warmup", daemon=True)
            _started.start()
        return _started
