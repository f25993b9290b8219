"""The run view in a real JupyterLab and Chromium: messages stream in live, a question is
answered by clicking, Stop stops, hostile agent text stays inert, and a saved notebook
reopened without a kernel still shows the conversation."""

from __future__ import annotations

import time
from typing import Any

import nbformat
from browser_lab import SETUP, Lab


def write_notebook(lab: Lab, name: str, cells: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}  # fmt: skip
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, lab.root / name)


def open_notebook(page: Any, lab: Lab, name: str, *, kernel: bool = True) -> None:
    page.goto(lab.tree(name))
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    dismiss_dialogs(page)
    if kernel:
        page.wait_for_selector(
            ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000
        )


def dismiss_dialogs(page: Any) -> None:
    """JupyterLab may greet with a dialog (kernel choice, a restored workspace): accept it."""
    time.sleep(0.5)
    dialog = page.locator(".jp-Dialog")
    for _ in range(3):
        if not dialog.count():
            return
        dialog.locator(".jp-Dialog-footer button.jp-mod-accept").first.click()
        time.sleep(0.3)


def cell(page: Any, index: int) -> Any:
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def run_cell(page: Any, index: int) -> None:
    """Click into the cell's editor and press Shift+Enter, as a person would; wait until
    the kernel took it (the prompt shows [*] or a number)."""
    prompt = cell(page, index).locator(".jp-InputArea-prompt")
    for _ in range(3):
        dismiss_dialogs(page)
        cell(page, index).locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        try:
            page.wait_for_function(
                "el => /\\[[*0-9]+\\]/.test(el.textContent)",
                arg=prompt.element_handle(),
                timeout=5_000,
            )
            return
        except Exception:
            continue
    raise AssertionError(f"cell {index} did not start")


def wait_idle(page: Any, timeout_s: float = 60) -> None:
    page.wait_for_selector(
        ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=timeout_s * 1000
    )


def save(page: Any, lab: Lab, name: str) -> dict[str, Any]:
    """Ctrl+S, then the notebook as the server wrote it."""
    path = lab.root / name
    before = path.stat().st_mtime_ns
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 15
    while path.stat().st_mtime_ns == before:
        assert time.monotonic() < deadline, "the notebook was not saved"
        time.sleep(0.1)
    time.sleep(0.3)
    return lab.contents(name)


def test_live_run_stop_and_saved_transcript(page: Any, lab: Lab, shots: Any) -> None:
    write_notebook(
        lab,
        "live.ipynb",
        [
            SETUP,
            "run = ba.run('Write a note about <b>offline</b> sync', model='slow:scripted',"
            " name='stoppable')\n"
            "view = LiveView(run).start()\nview.display()",
            "done = ba.run('Write a brief', name='finished', max_turns=2)\n"
            "LiveView(done).start().display()",
        ],
    )
    open_notebook(page, lab, "live.ipynb")
    run_cell(page, 0)
    wait_idle(page)
    run_cell(page, 1)
    view = cell(page, 1).locator(".botarmy-view")
    view.wait_for()
    # messages appear while the run goes, one card at a time
    view.locator(".ba-feed .ba-card").nth(1).wait_for()
    first = view.locator(".ba-feed .ba-card").count()
    view.locator(".ba-feed .ba-card").nth(first).wait_for(timeout=10_000)
    assert "running" in view.locator(".ba-status").inner_text()
    shots(page, "run-view-live", cell(page, 1))
    cell(page, 1).get_by_role("button", name="Stop").click()
    status = view.locator(".ba-status")
    page.wait_for_function(
        "el => el.textContent === 'cancelled'", arg=status.element_handle(), timeout=40_000
    )
    time.sleep(0.5)
    run_cell(page, 2)
    wait_idle(page)
    cell(page, 2).locator(".botarmy-view-fallback .ba-card").first.wait_for(timeout=30_000)
    saved = save(page, lab, "live.ipynb")
    assert "widgets" not in saved["metadata"]
    outputs = saved["cells"][1]["outputs"]
    assert [o["output_type"] for o in outputs] == ["display_data"]
    assert "application/vnd.jupyter.widget-view+json" not in outputs[0]["data"]
    assert "botarmy-view-fallback" in outputs[0]["data"]["text/html"]
    assert "offline" in outputs[0]["data"]["text/html"]

    # reopened with no kernel at all: the transcript is there, no widget error
    page.evaluate("() => window.jupyterapp.commands.execute('kernelmenu:shutdown')")
    page.goto(f"{lab.url}/lab?token={lab.token}&reset")
    page.wait_for_selector(".jp-Launcher, .jp-Notebook", timeout=30_000)
    open_notebook(page, lab, "live.ipynb", kernel=False)
    output = cell(page, 1).locator(".jp-OutputArea-output")
    output.locator(".ba-card").first.wait_for()
    assert "model not found" not in cell(page, 1).inner_text()
    assert "cancelled" in cell(page, 1).inner_text()
    shots(page, "run-view-saved", cell(page, 1))


def test_answer_questions_by_clicking(page: Any, lab: Lab, shots: Any) -> None:
    write_notebook(
        lab,
        "questions.ipynb",
        [
            SETUP,
            "run = ba.run('A team wiki that works offline', template='project-brief-tmpl',\n"
            "             variables={'project_name': 'Wiki'}, hitl_timeout_s=120)\n"
            "view = LiveView(run).start()\nview.display()",
            "[(e.response, e.outcome) for e in run.events if e.type == 'hitl_response']",
        ],
    )
    open_notebook(page, lab, "questions.ipynb")
    run_cell(page, 0)
    wait_idle(page)
    run_cell(page, 1)
    box = cell(page, 1)
    approve = box.get_by_role("button", name="Approve")
    approve.wait_for()
    box.get_by_text("question from").first.wait_for()
    shots(page, "run-view-question", box)
    answered = 0
    box.locator("textarea").fill("Mention how sync conflicts are shown")
    box.get_by_role("button", name="Amend").click()
    answered += 1
    status = box.locator(".ba-status")
    while answered < 4:
        page.wait_for_function(
            "([el, n]) => [...el.querySelectorAll('.ba-card')]"
            "  .filter(c => c.textContent.includes('✔ answered')).length >= n",
            arg=[box.element_handle(), answered],
            timeout=30_000,
        )
        if status.inner_text() == "completed":
            break
        approve.wait_for()
        page.wait_for_function("el => !el.disabled", arg=approve.element_handle())
        approve.click()
        answered += 1
    page.wait_for_function(
        "el => el.textContent === 'completed'", arg=status.element_handle(), timeout=60_000
    )
    run_cell(page, 2)
    wait_idle(page)
    result = cell(page, 2).locator(".jp-OutputArea-output").inner_text()
    assert result.count("'answered'") == 4 and "Mention how sync conflicts" in result


def test_hostile_messages_stay_inert_and_the_page_responsive(
    page: Any, lab: Lab, shots: Any
) -> None:
    write_notebook(
        lab,
        "hostile.ipynb",
        [
            SETUP,
            "run = ba.run('Say hostile things', model='hostile', name='hostile')\n"
            "view = LiveView(run).start()\nview.display()",
            "x = 1 + 1\nx",
        ],
    )
    open_notebook(page, lab, "hostile.ipynb")
    run_cell(page, 0)
    wait_idle(page)
    run_cell(page, 1)
    box = cell(page, 1)
    page.wait_for_function(
        "el => el.textContent.includes('botarmy run hostile') && "
        "el.textContent.includes('completed')",
        arg=box.element_handle(),
        timeout=60_000,
    )
    html = box.inner_html()
    assert page.evaluate("() => window.__pwned") is None
    output = box.locator(".jp-OutputArea-output")
    dangerous = output.locator(
        "script, iframe, svg, img, object, embed, form, [onerror], [onload], [onclick],"
        " a[href^='javascript'], [style*='position']"
    )
    assert dangerous.count() == 0, [d.evaluate("e => e.outerHTML") for d in dangerous.all()]
    shown = box.text_content()
    assert '<td onclick="window.__pwned=5">raw html table' in shown  # raw HTML shown as text
    assert output.locator(".ba-md table td code").count() >= 1  # a Markdown table, rendered
    assert "more characters" in box.text_content()  # the 1 MB line is cut (and collapsed)
    assert len(html) < 200_000
    # still responsive: the next cell runs and a keystroke lands at once
    started = time.monotonic()
    run_cell(page, 2)
    wait_idle(page)
    cell(page, 2).locator(".jp-OutputArea-output").get_by_text("2").wait_for()
    assert time.monotonic() - started < 10
    box.locator(".ba-feed, .botarmy-view-fallback").first.scroll_into_view_if_needed()
    shots(page, "run-view-hostile", box)
    assert not page.botarmy_errors, page.botarmy_errors


def test_the_magic_cell_shows_its_view_at_once_and_a_bad_one_only_its_error(
    page: Any, lab: Lab
) -> None:
    """The first %%botarmy of a kernel: the view is there while the run is still being
    registered, then streams; a cell whose team does not exist leaves one error line."""
    write_notebook(
        lab,
        "magic.ipynb",
        [
            "%load_ext botarmy_nb\nimport test_providers",
            "%%botarmy --model slow:scripted --max-turns 3 --name magic-run\nWrite a note",
            "%%botarmy --team nope\nWrite a note",
        ],
    )
    open_notebook(page, lab, "magic.ipynb")
    run_cell(page, 0)
    wait_idle(page)
    run_cell(page, 1)
    view = cell(page, 1).locator(".botarmy-view")
    view.wait_for()
    assert "magic-run" in view.locator(".ba-top").inner_text()
    view.locator(".ba-feed .ba-card").nth(1).wait_for(timeout=30_000)  # it streams
    # when it ends, the transcript takes the view's place: the task and three turns
    page.wait_for_function(
        "el => el.querySelectorAll('.botarmy-view-fallback .ba-card').length === 4",
        arg=cell(page, 1).element_handle(),
        timeout=60_000,
    )
    assert "magic-run · completed" in cell(page, 1).locator(".botarmy-view-fallback").inner_text()
    run_cell(page, 2)
    wait_idle(page)
    bad = cell(page, 2)
    bad.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").wait_for()
    assert "unknown team 'nope'" in bad.inner_text()
    assert not bad.locator(".botarmy-view").count() and "Traceback" not in bad.inner_text()
