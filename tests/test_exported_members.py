"""The public API is declared once: ``botarmy_nb.__all__`` is exactly what we mean to
export, and every name in it resolves."""

from __future__ import annotations

import botarmy_nb as ba

PUBLIC = {
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
}


def test_all_is_exactly_the_public_api() -> None:
    assert set(ba.__all__) == PUBLIC
    assert ba.__all__ == sorted(ba.__all__)


def test_every_public_name_resolves() -> None:
    for name in ba.__all__:
        assert getattr(ba, name) is not None, name
