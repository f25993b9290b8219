"""Helpers importable by tests (a provider whose calls never return until cancelled)."""

from __future__ import annotations

import asyncio


def stuck_provider(spec, context):  # type: ignore[no-untyped-def]
    from botarmy_nb.models.scripted import ScriptedChatCompletionClient

    class Stuck(ScriptedChatCompletionClient):
        async def create(self, messages, **kwargs):  # type: ignore[no-untyped-def]
            await asyncio.sleep(3600)
            raise AssertionError("unreachable")

    return Stuck(context)
