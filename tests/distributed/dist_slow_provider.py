"""A test model provider, ``slowtest:SECONDS``: the scripted model answering after a delay.

Worker processes find it through the ``botarmy_nb.providers`` entry point of a throw-away
distribution the tests put on their PYTHONPATH (see ``dist_services.slow_plugin_path``);
the test process registers it directly. Replies stay deterministic; only time passes.
"""

from __future__ import annotations

import asyncio
from typing import Any


def _factory(spec: Any, context: Any) -> Any:
    from botarmy_nb.models.scripted import ScriptedChatCompletionClient

    delay = float(spec.model)

    class Slow(ScriptedChatCompletionClient):
        async def create(self, messages: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            await asyncio.sleep(delay)
            return await super().create(messages, **kwargs)

    return Slow(context)


def provider() -> Any:
    from botarmy_nb.models.registry import Provider

    return Provider(
        "slowtest", _factory, default_model="0.2", description="scripted, slowed (tests only)"
    )
