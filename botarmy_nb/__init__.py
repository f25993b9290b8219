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
    "get_run",
    "last_run",
    "load_bmad",
    "load_ipython_extension",
    "messages",
    "model_calls",
    "resume",
    "run",
    "runs",
    "unload_ipython_extension",
]

_LAZY = {
    "run": "botarmy_nb.api",
    "arun": "botarmy_nb.api",
    "runs": "botarmy_nb.api",
    "messages": "botarmy_nb.api",
    "resume": "botarmy_nb.api",
    "model_calls": "botarmy_nb.api",
    "artifacts": "botarmy_nb.api",
    "get_run": "botarmy_nb.api",
    "last_run": "botarmy_nb.api",
    "Run": "botarmy_nb.handle",
    "load_bmad": "botarmy_nb.bmad.loader",
    "BotArmyError": "botarmy_nb.errors",
}

if TYPE_CHECKING:
    from botarmy_nb.api import (
        artifacts,
        arun,
        get_run,
        last_run,
        messages,
        model_calls,
        resume,
        run,
        runs,
    )
    from botarmy_nb.bmad.loader import load_bmad
    from botarmy_nb.errors import BotArmyError
    from botarmy_nb.handle import Run


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'botarmy_nb' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext botarmy_nb``: register ``%%botarmy`` and ``%botarmy``."""
    from botarmy_nb.notebook.magics import BotArmyMagics

    ipython.register_magics(BotArmyMagics)


def unload_ipython_extension(ipython: Any) -> None:
    return None
