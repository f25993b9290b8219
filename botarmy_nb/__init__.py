"""botarmy-nb: run teams of LLM agents from Jupyter and analyse them with pandas.

Heavy modules (AutoGen, SQLAlchemy, pandas) load on first use, so ``%load_ext botarmy_nb``
stays instant.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "BotArmyError",
    "Run",
    "__version__",
    "artifacts",
    "arun",
    "export_team",
    "get_run",
    "get_sweep",
    "hitl",
    "import_run",
    "last_run",
    "load_bmad",
    "load_ipython_extension",
    "messages",
    "model_calls",
    "panel",
    "plot",
    "prepare",
    "reply",
    "resume",
    "run",
    "runs",
    "steps",
    "submit",
    "summarize",
    "sweep",
    "unload_ipython_extension",
]

_LAZY = {
    "run": "botarmy_nb.api",
    "arun": "botarmy_nb.api",
    "runs": "botarmy_nb.data",
    "messages": "botarmy_nb.data",
    "resume": "botarmy_nb.api",
    "model_calls": "botarmy_nb.data",
    "artifacts": "botarmy_nb.data",
    "steps": "botarmy_nb.data",
    "hitl": "botarmy_nb.data",
    "summarize": "botarmy_nb.analysis.summary",
    "plot": "botarmy_nb.analysis.plots",
    "sweep": "botarmy_nb.analysis.sweep",
    "get_sweep": "botarmy_nb.analysis.sweep",
    "import_run": "botarmy_nb.analysis.bundle",
    "get_run": "botarmy_nb.api",
    "prepare": "botarmy_nb.api",
    "submit": "botarmy_nb.api",
    "reply": "botarmy_nb.api",
    "panel": "botarmy_nb.notebook.panel",
    "export_team": "botarmy_nb.specs.component",
    "last_run": "botarmy_nb.api",
    "Run": "botarmy_nb.handle",
    "load_bmad": "botarmy_nb.bmad.loader",
    "BotArmyError": "botarmy_nb.errors",
}

if TYPE_CHECKING:
    from botarmy_nb.analysis import plots as plot
    from botarmy_nb.analysis.bundle import import_run
    from botarmy_nb.analysis.summary import summarize
    from botarmy_nb.analysis.sweep import get_sweep, sweep
    from botarmy_nb.api import arun, get_run, last_run, prepare, reply, resume, run, submit
    from botarmy_nb.bmad.loader import load_bmad
    from botarmy_nb.data import artifacts, hitl, messages, model_calls, runs, steps
    from botarmy_nb.errors import BotArmyError
    from botarmy_nb.handle import Run
    from botarmy_nb.notebook.panel import panel
    from botarmy_nb.specs.component import export_team


def __getattr__(name: str) -> Any:
    if name == "plot":  # the module itself: ba.plot.cost(frame), ba.plot.timeline(run)
        return importlib.import_module(_LAZY[name])
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'botarmy_nb' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext botarmy_nb``: register ``%%botarmy`` and ``%botarmy``, and start
    importing what the first run needs in the background (the first cell then shows its
    view at once)."""
    from botarmy_nb.notebook.magics import BotArmyMagics
    from botarmy_nb.notebook.warmup import start_warmup

    ipython.register_magics(BotArmyMagics)
    start_warmup()


def unload_ipython_extension(ipython: Any) -> None:
    return None
