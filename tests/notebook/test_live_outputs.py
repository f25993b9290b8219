"""Outputs that survive saving, in a real kernel: what the view leaves in its cell, and a
notebook saved the way JupyterLab saves it passes nbval when run again.

Run as a script to re-execute notebooks the way JupyterLab does (late messages land in
the cell that started them, display updates apply) and save them without widget state:
``python tests/notebook/test_live_outputs.py notebooks/01-quickstart.ipynb``.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.kernel

REPO = Path(__file__).resolve().parents[2]
SETUP = """
%load_ext botarmy_nb
import asyncio
import botarmy_nb as ba
from botarmy_nb.models import registry
from botarmy_nb.models.scripted import ScriptedChatCompletionClient
from botarmy_nb.notebook.live import LiveView

class Slow(ScriptedChatCompletionClient):
    async def create(self, messages, **kwargs):
        await asyncio.sleep(0.25)
        return await super().create(messages, **kwargs)

registry.register_provider(registry.Provider("slow", lambda spec, ctx: Slow(ctx),
                                             default_model="scripted"))
"""
OUTPUT_TYPES = ("stream", "display_data", "execute_result", "error")
WIDGET = "application/vnd.jupyter.widget-view+json"


def execute_like_jupyterlab(kc: Any, cells: list[dict[str, Any]], settle_s: float = 1.5) -> None:
    """Run code cells in order and fill their ``outputs`` as JupyterLab does: every output
    message goes to the cell whose execution it names as parent — also after that cell
    finished — and ``update_display_data`` replaces that cell's outputs of the same id."""
    by_msg: dict[str, dict[str, Any]] = {}
    ids: dict[str, dict[str, list[int]]] = {}

    def take(msg: dict[str, Any]) -> None:
        cell = by_msg.get(msg["parent_header"].get("msg_id", ""))
        kind, content = msg["msg_type"], msg["content"]
        if cell is None:
            return
        display_id = (content.get("transient") or {}).get("display_id")
        if kind in OUTPUT_TYPES:
            output = {"output_type": kind, **{k: v for k, v in content.items() if k != "transient"}}
            if (
                kind == "stream"
                and cell["outputs"]
                and cell["outputs"][-1].get("name") == content["name"]
            ):
                cell["outputs"][-1]["text"] += content["text"]
                return
            cell["outputs"].append(output)
            if display_id:
                ids.setdefault(cell["id"], {}).setdefault(display_id, []).append(
                    len(cell["outputs"]) - 1
                )
        elif kind == "update_display_data":
            for index in ids.get(cell["id"], {}).get(display_id, []):
                cell["outputs"][index] = {
                    "output_type": "display_data", "data": content["data"],
                    "metadata": content.get("metadata", {}),
                }  # fmt: skip
        elif kind == "clear_output":
            cell["outputs"] = []

    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        cell["outputs"] = []
        msg_id = kc.execute(cell["source"])
        by_msg[msg_id] = cell
        while True:
            msg = kc.get_iopub_msg(timeout=300)
            take(msg)
            if (
                msg["msg_type"] == "status"
                and msg["parent_header"].get("msg_id") == msg_id
                and msg["content"]["execution_state"] == "idle"
            ):
                break
        reply = kc.get_shell_msg(timeout=60)
        cell["execution_count"] = reply["content"].get("execution_count")
        for output in cell["outputs"]:
            if output["output_type"] == "execute_result":
                output["execution_count"] = cell["execution_count"]
    deadline = time.monotonic() + settle_s  # late messages of runs that ended after their cell
    while time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            take(kc.get_iopub_msg(timeout=0.1))


@contextlib.contextmanager
def kernel(cwd: Path, home: Path) -> Iterator[Any]:
    from jupyter_client.manager import start_new_kernel

    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTARMY_")}
    env["BOTARMY_HOME"] = str(home)
    km, kc = start_new_kernel(kernel_name="python3", env=env, cwd=str(cwd))
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def save_like_jupyterlab(path: Path, home: Path) -> None:
    """Execute the notebook at ``path`` in a fresh kernel and save it as JupyterLab does
    with no widget state; an output that would reopen as "model not found" (a control
    widget: panel, builder, runs browser, sweep progress) keeps only its static fallback."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    with kernel(path.parent, home) as kc:
        execute_like_jupyterlab(kc, nb.cells)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:  # control widgets (panel, builder…): their static fallback only
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET in data and "text/html" in data:
                del data[WIDGET]
    nbformat.write(nbformat.from_dict(nb), path)


def messages_of(kc: Any, code: str, seconds_after: float = 0.0) -> list[dict[str, Any]]:
    msg_id = kc.execute(code)
    found: list[dict[str, Any]] = []
    idle = None
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=0.1 if idle else 120)
        except queue.Empty:
            if idle and time.monotonic() > idle:
                return found
            continue
        if msg["parent_header"].get("msg_id") == msg_id:
            found.append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                idle = time.monotonic() + seconds_after
        if idle and time.monotonic() > idle:
            return found


@pytest.fixture(scope="module")
def kc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with kernel(REPO, tmp_path_factory.mktemp("home")) as client:
        messages_of(client, SETUP)
        yield client


def test_a_waiting_cell_ends_with_the_transcript_and_the_summary(kc: Any) -> None:
    found = messages_of(
        kc,
        "run = ba.run('Write a note', name='waited')\n"
        "view = LiveView(run).start()\nview.display()\nassert view.join(60)",
    )
    kinds = [
        m["msg_type"] for m in found if m["msg_type"] in (*OUTPUT_TYPES, "update_display_data")
    ]
    assert kinds == ["display_data", "update_display_data", "display_data"]
    live, update, final = (
        m for m in found if m["msg_type"] in ("display_data", "update_display_data")
    )
    display_id = live["content"]["transient"]["display_id"]
    assert update["content"]["transient"]["display_id"] == display_id
    assert "application/vnd.jupyter.widget-view+json" in live["content"]["data"]
    assert live["content"]["data"]["text/plain"] == update["content"]["data"]["text/plain"]
    assert "widget-view" not in str(update["content"]["data"])  # the widget gives way
    data = final["content"]["data"]
    assert data["text/plain"].startswith("botarmy run waited · completed")
    assert "ba-card" in data["text/html"] and "writer" in data["text/html"]
    assert "<script" not in data["text/html"]


def test_a_cell_that_did_not_wait_gets_the_transcript_in_place(kc: Any) -> None:
    found = messages_of(
        kc,
        "late = ba.run('Write a note', name='late', model='slow:scripted')\n"
        "LiveView(late).start().display()",
        seconds_after=0.0,
    )
    assert [m["msg_type"] for m in found if m["msg_type"] in OUTPUT_TYPES] == ["display_data"]
    display_id = found[[m["msg_type"] for m in found].index("display_data")]["content"][
        "transient"
    ]["display_id"]
    parent = found[0]["parent_header"]["msg_id"]
    waiting = kc.execute("late.wait(60); import time; time.sleep(1.0)")
    updates = []
    while True:  # everything the kernel publishes while the next cell runs
        msg = kc.get_iopub_msg(timeout=120)
        if msg["msg_type"] == "update_display_data":
            updates.append(msg)
        if (
            msg["parent_header"].get("msg_id") == waiting
            and msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
        ):
            break
    assert updates, "no update of the live output"
    update = updates[0]
    assert update["parent_header"]["msg_id"] == parent
    assert update["content"]["transient"]["display_id"] == display_id
    assert update["content"]["data"]["text/plain"] == "botarmy live view of run late"
    assert "botarmy-view-fallback" in update["content"]["data"]["text/html"]
    assert "ba-card" in update["content"]["data"]["text/html"]


def test_a_notebook_saved_like_jupyterlab_passes_nbval(tmp_path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_code_cell(
            "run = ba.run('Write a note', name='waited')\n"
            "view = LiveView(run).start()\nview.display()\nview.join(60)"
        ),
        nbformat.v4.new_code_cell(
            "late = ba.run('Write a note', name='late', model='slow:scripted')\n"
            "LiveView(late).start().display()"
        ),
        nbformat.v4.new_code_cell("late.wait(60).status"),
    ]
    path = tmp_path / "saved.ipynb"
    nbformat.write(nb, path)
    save_like_jupyterlab(path, tmp_path / "home")
    saved = nbformat.read(path, as_version=4)
    assert "widgets" not in saved.metadata
    late_outputs = saved.cells[2].outputs
    assert len(late_outputs) == 1 and "ba-card" in late_outputs[0]["data"]["text/html"]
    assert "application/vnd.jupyter.widget-view+json" not in str(saved.cells)
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
            "--nbval", "--nbval-current-env",
            f"--nbval-sanitize-with={REPO / 'notebooks' / 'sanitize.cfg'}", str(path),
        ],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("BOTARMY_")},
             "BOTARMY_HOME": str(tmp_path / "home2")},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]


@pytest.mark.parametrize("path", sorted((REPO / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_example_notebooks_reopen_without_a_kernel(path: Path) -> None:
    """No saved widget state, and no output that needs it: each shows its HTML or text."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    assert "widgets" not in nb.metadata
    views = [
        c.source[:40] for c in nb.cells for o in c.get("outputs", []) if WIDGET in o.get("data", {})
    ]
    assert not views, f"outputs that reopen as 'model not found': {views}"


if __name__ == "__main__":  # re-execute and save notebooks, e.g. the example notebooks
    import tempfile

    for name in sys.argv[1:]:
        with tempfile.TemporaryDirectory() as home:
            save_like_jupyterlab(Path(name).resolve(), Path(home))
        print("saved", name)
