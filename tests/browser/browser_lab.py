"""What the browser tests share: the running JupyterLab's handle and the setup cell."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["PROVIDERS", "SETUP", "Lab"]

# Test providers the notebooks import (written next to them): agents that are slow (to
# watch and stop them) or hostile (to check what reaches the page).
PROVIDERS = r'''
"""Test model providers for the browser tests."""
import asyncio

from autogen_core.models import CreateResult, RequestUsage

from botarmy_nb.models import registry
from botarmy_nb.models.scripted import ScriptedChatCompletionClient

HOSTILE = [
    "<script>window.__pwned = 1</script> script tag",
    "<img src=x onerror=\"window.__pwned = 2\"> image with onerror",
    "[click me](javascript:window.__pwned=3) and <a href=\"javascript:window.__pwned=4\">raw</a>",
    "<table><tr><td onclick=\"window.__pwned=5\">raw html table</td></tr></table>\n\n"
    "| markdown | table |\n|---|---|\n| **bold** | `code` |",
    "<iframe src=\"javascript:parent.__pwned=6\"></iframe><svg onload=\"window.__pwned=7\">",
    "L" * 1_000_000,
]


class Slow(ScriptedChatCompletionClient):
    """Answers one message a second and never approves: a run long enough to watch."""

    turns = 0

    async def create(self, messages, **kwargs):
        await asyncio.sleep(1.0)
        Slow.turns += 1
        text = f"**Turn {Slow.turns}**: one more point to weigh about *offline sync*."
        usage = RequestUsage(prompt_tokens=11, completion_tokens=13)
        return CreateResult(finish_reason="stop", content=text, usage=usage, cached=False)


class Hostile(ScriptedChatCompletionClient):
    calls = 0

    async def create(self, messages, **kwargs):
        Hostile.calls += 1
        text = HOSTILE[(Hostile.calls - 1) % len(HOSTILE)]
        usage = RequestUsage(prompt_tokens=5, completion_tokens=7)
        return CreateResult(finish_reason="stop", content=text, usage=usage, cached=False)


registry.register_provider(
    registry.Provider("slow", lambda spec, ctx: Slow(ctx), default_model="scripted")
)
registry.register_provider(
    registry.Provider("hostile", lambda spec, ctx: Hostile(ctx), default_model="scripted")
)
'''

SETUP = (
    "%load_ext botarmy_nb\n"
    "import botarmy_nb as ba\n"
    "import test_providers  # slow and hostile test models\n"
    "from botarmy_nb.notebook.live import LiveView"
)


class Lab:
    """A running JupyterLab: its URL, token and notebook folder."""

    def __init__(self, url: str, token: str, root: Path, process: subprocess.Popen[bytes]):
        self.url, self.token, self.root, self.process = url, token, root, process

    def tree(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}&reset"

    def contents(self, name: str) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.url}/api/contents/{name}?content=1",
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())["content"]
