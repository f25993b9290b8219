"""In a real Jupyter kernel (jupyter_client): runs stream while the kernel is idle or busy."""

from __future__ import annotations

import contextlib
import os
import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.kernel

SETUP = """
%load_ext botarmy_nb
import asyncio
from botarmy_nb.models import registry
from botarmy_nb.models.scripted import ScriptedChatCompletionClient

class Slow(ScriptedChatCompletionClient):
    async def create(self, messages, **kwargs):
        await asyncio.sleep(0.25)
        return await super().create(messages, **kwargs)

registry.register_provider(registry.Provider("slow", lambda spec, ctx: Slow(ctx),
                                             default_model="scripted"))
"""


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from jupyter_client.manager import start_new_kernel

    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTARMY_")}
    env["BOTARMY_HOME"] = str(tmp_path_factory.mktemp("kernel-home"))
    km, kc = start_new_kernel(kernel_name="python3", env=env, cwd=str(Path.cwd()))
    try:
        outputs = execute(kc, SETUP)
        assert not [o for o in outputs if o["msg_type"] == "error"], outputs
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def execute(kc: Any, code: str, timeout: float = 60) -> list[dict[str, Any]]:
    """Run a cell; returns its iopub output messages (type + content)."""
    outputs: list[dict[str, Any]] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] in ("stream", "display_data", "execute_result", "error"):
            outputs.append({"msg_type": msg["msg_type"], **msg["content"]})

    reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)
    assert reply["content"]["status"] in ("ok", "error")
    return outputs


def value(kc: Any, expression: str) -> str:
    results = [o for o in execute(kc, expression) if o["msg_type"] == "execute_result"]
    assert results, f"no result for {expression}"
    return results[0]["data"]["text/plain"]


def drain_iopub(kc: Any, seconds: float) -> list[dict[str, Any]]:
    """Collect what the kernel publishes while nobody executes anything."""
    messages = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            messages.append(kc.get_iopub_msg(timeout=0.1))
    return messages


def test_run_streams_while_the_kernel_is_idle(kernel: Any) -> None:
    outputs = execute(kernel, "%%botarmy --model slow:scripted --name idle-run\nWrite a note")
    live = [o for o in outputs if o["msg_type"] == "display_data"]
    assert live and "application/vnd.jupyter.widget-view+json" in live[0]["data"]
    assert "idle-run" in live[0]["data"]["text/plain"]
    assert not [o for o in outputs if o["msg_type"] == "execute_result"]
    assert value(kernel, "_botarmy_run.status") in ("'queued'", "'running'")  # did not wait

    published = drain_iopub(kernel, 3.0)  # the kernel is idle: nothing is executing
    cards = [  # the view sends only new cards: custom comm messages, the cards a binary frame
        bytes(m["buffers"][0]).decode()
        for m in published
        if m["msg_type"] == "comm_msg"
        and m["content"]["data"].get("method") == "custom"
        and m.get("buffers")
    ]
    assert any("writer" in c for c in cards)
    assert value(kernel, "_botarmy_run.status") == "'completed'"
    assert value(kernel, "len(_botarmy_run.messages)") == "5"


def test_run_progresses_while_another_cell_executes(kernel: Any) -> None:
    execute(kernel, "%%botarmy --model slow:scripted --name busy-run\nWrite a note")
    outputs = execute(
        kernel,
        (
            "import time\n"
            "before = len(_botarmy_run.events)\n"
            "time.sleep(2.5)  # a long, busy cell\n"
            "print(before, len(_botarmy_run.events), _botarmy_run.status)\n"
        ),
    )
    printed = "".join(o.get("text", "") for o in outputs if o["msg_type"] == "stream")
    before, after, status = printed.split()[-3:]
    assert int(after) > int(before) and status == "completed"


def test_cancel_from_the_notebook(kernel: Any) -> None:
    execute(kernel, "%%botarmy --model slow:scripted --team review-graph --name doomed\nBuild it")
    time.sleep(0.4)
    outputs = execute(kernel, "%botarmy cancel doomed")
    text = "".join(o.get("text", "") for o in outputs)
    assert "cancelled" in text
    assert value(kernel, "_botarmy_run.status") == "'cancelled'"


def test_bad_option_is_a_usage_error_not_a_traceback(kernel: Any) -> None:
    outputs = execute(kernel, "%%botarmy --max-turns 0\nTask")
    text = "".join(o.get("text", "") for o in outputs) + "".join(
        "".join(o.get("traceback", [])) for o in outputs
    )
    assert "UsageError" in text and "must be at least 1" in text
    assert "Traceback" not in text


def test_wait_blocks_and_leaves_a_stable_summary(kernel: Any) -> None:
    outputs = execute(kernel, "%%botarmy --wait --name waited\nWrite a note")
    assert not [o for o in outputs if o["msg_type"] == "execute_result"]  # nothing returned
    final = [
        o["data"]
        for o in outputs
        if o["msg_type"] == "display_data"
        and o["data"].get("text/plain", "").startswith("botarmy run waited · completed")
    ]
    assert final, outputs  # the transcript and summary stay in the cell's own output
    assert "&lt;" not in final[0]["text/plain"] and "writer" in final[0]["text/html"]


def test_warm_up_leaves_pandas_display_as_a_kernel_has_it(tmp_path: Path) -> None:
    # pandas picks its column limit on first import: 20 in a kernel, 0 (fit to an
    # 80-column terminal) when ``get_ipython`` is not in builtins — as on any thread
    # between cells. Neither the warm-up nor a run may be the first to import it.
    from jupyter_client.manager import start_new_kernel

    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTARMY_")}
    env["BOTARMY_HOME"] = str(tmp_path)
    km, kc = start_new_kernel(kernel_name="python3", env=env, cwd=str(Path.cwd()))
    try:
        execute(kc, "%load_ext botarmy_nb")
        # wait with no cell executing, so the warm-up thread imports as it would for a user
        for _ in range(60):
            time.sleep(1)
            if value(kc, "__import__('botarmy_nb').notebook.warmup._started.is_alive()") == "False":
                break
        execute(kc, "%%botarmy --wait --name first\nWrite a note")
        assert value(kc, "import pandas as pd\npd.get_option('display.max_columns')") == "20"
        wide = value(kc, "pd.DataFrame({n: ['x' * 30] * 2 for n in 'abcd'})")
        assert "..." not in wide and "[2 rows x 4 columns]" not in wide
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
