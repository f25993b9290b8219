"""The control panel, the team builder and the runs browser in a real JupyterLab and
Chromium, used as a person would: pick, type and click, then read what appears."""

from __future__ import annotations

from typing import Any

from browser_lab import SETUP, Lab
from test_live_view_browser import cell, open_notebook, run_cell, wait_idle, write_notebook


def control(scope: Any, kind: str, label: str) -> Any:
    """The ipywidgets control of this kind (``dropdown``, ``text``…) labelled ``label``."""
    labelled = scope.page.locator(".widget-label", has_text=label)
    return scope.locator(f".widget-{kind}").filter(has=labelled).first


def option_index(select: Any, *starts: str) -> list[int]:
    """Indexes of the options whose labels start with these texts (one each)."""
    # ipywidgets writes option labels with no-break spaces
    labels = [t.replace("\xa0", " ").strip() for t in select.locator("option").all_inner_texts()]
    return [next(i for i, t in enumerate(labels) if t.startswith(s)) for s in starts]


def choose(scope: Any, label: str, starts: str) -> None:
    """Pick the option starting with ``starts`` in the dropdown labelled ``label``."""
    select = control(scope, "dropdown", label).locator("select")
    select.select_option(index=option_index(select, starts)[0])


def start_kernel(page: Any, lab: Lab, name: str, cells: list[str]) -> None:
    write_notebook(lab, name, [SETUP, *cells])
    open_notebook(page, lab, name)
    run_cell(page, 0)
    wait_idle(page)


def output_text(page: Any, index: int) -> str:
    return str(cell(page, index).locator(".jp-OutputArea-output").inner_text())


class Region:
    """Cells next to each other, shot as one picture (the ``shots`` fixture takes it as
    its element): the panel with the cell it wrote, say."""

    def __init__(self, page: Any, *parts: Any) -> None:
        self.page, self.parts = page, parts

    def screenshot(self, path: str) -> None:
        self.parts[0].scroll_into_view_if_needed()
        boxes = [part.bounding_box() for part in self.parts]
        top, left = min(b["y"] for b in boxes), min(b["x"] for b in boxes)
        bottom = max(b["y"] + b["height"] for b in boxes)
        right = max(b["x"] + b["width"] for b in boxes)
        clip = {"x": left, "y": top, "width": right - left, "height": bottom - top}
        self.page.screenshot(path=path, clip=clip)


def test_panel_form_start_and_write_cell(page: Any, lab: Lab, shots: Any) -> None:
    page.set_viewport_size({"width": 1400, "height": 1400})  # the written line fits
    start_kernel(page, lab, "panel.ipynb", ["ba.panel()"])
    run_cell(page, 1)
    panel = cell(page, 1).locator(".jp-OutputArea")
    panel.get_by_text("botarmy control panel").wait_for()
    panel.get_by_role("button", name="template").click()
    panel.get_by_text("project_type").wait_for()  # the kernel drew the first template's form
    control(panel, "dropdown", "name").locator("select").select_option("prd-tmpl")
    panel.get_by_text("has_ui").wait_for()
    panel.locator(".widget-textarea textarea").fill(
        "Write the PRD for a team wiki that works offline"
    )
    choose(panel, "all agents", "✔ slow")  # one message a second: a run to watch

    # a required value missing: said beside the field, and nothing starts
    panel.get_by_role("button", name="Start").click()
    beside = control(panel, "hbox", "project_name")
    beside.get_by_text("required").wait_for()
    panel.get_by_text("To start: fill in the marked fields").wait_for()
    assert panel.locator(".botarmy-view").count() == 0

    control(panel, "text", "project_name").locator("input").fill("Team wiki")
    choose(panel, "has_ui", "true")
    panel.get_by_role("button", name="Start").click()
    panel.get_by_text("started run").wait_for()
    assert beside.get_by_text("required").count() == 0
    view = panel.locator(".botarmy-view")
    cards = view.locator(".ba-feed .ba-card")
    cards.nth(1).wait_for(timeout=30_000)
    seen = cards.count()
    cards.nth(seen).wait_for(timeout=10_000)  # one more arrived while we looked: live
    assert "running" in view.locator(".ba-status").inner_text()

    # the same run as a %%botarmy cell, right below the panel
    panel.get_by_role("button", name="Write cell").click()
    panel.get_by_text("the %%botarmy cell is below").wait_for()
    written = cell(page, 2).locator(".jp-InputArea-editor")
    written.get_by_text("%%botarmy").wait_for()
    source = written.inner_text()
    assert source.startswith("%%botarmy --template prd-tmpl --var 'project_name=Team wiki'")
    assert "--var has_ui=true --model slow:scripted" in source
    assert "Write the PRD for a team wiki" in source
    shots(page, "panel", Region(page, cell(page, 1), cell(page, 2)))

    panel.get_by_role("button", name="Stop").click()
    status = view.locator(".ba-status")
    page.wait_for_function(
        "el => el.textContent === 'cancelled'", arg=status.element_handle(), timeout=40_000
    )
    assert not page.botarmy_errors, page.botarmy_errors


def test_builder_saves_a_team_that_loads_back(page: Any, lab: Lab, shots: Any) -> None:
    page.set_viewport_size({"width": 1280, "height": 1400})
    start_kernel(
        page,
        lab,
        "builder.ipynb",
        [
            "%botarmy builder",
            "from botarmy_nb.specs.catalog import find_team\n"
            "team = find_team('wiki-team')\n"
            "print(team.type, team.agent_names, [(e.source, e.target) for e in team.graph.edges])",
        ],
    )
    run_cell(page, 1)
    builder = cell(page, 1).locator(".jp-OutputArea")
    builder.get_by_text("botarmy team builder").wait_for()
    builder.get_by_text("add at least one agent").wait_for()
    name = control(builder, "text", "name").locator("input")
    name.fill("wiki-team")
    control(builder, "text", "description").locator("input").fill("Drafts and reviews wiki pages")
    for agent in ("library: writer", "library: critic"):
        choose(builder, "agent", agent)
        builder.get_by_role("button", name="Add").click()
    members = control(builder, "select", "team").locator("select")
    page.wait_for_function("el => el.options.length === 2", arg=members.element_handle())
    assert members.locator("option").all_inner_texts() == ["writer", "critic"]
    choose(builder, "type", "graph")
    edges = control(builder, "textarea", "edges").locator("textarea")
    edges.wait_for()
    page.wait_for_function("el => el.value === 'writer -> critic'", arg=edges.element_handle())
    preview = builder.locator("pre")
    page.wait_for_function(
        "el => el.textContent.includes('type: graph') && el.textContent.includes('wiki-team')",
        arg=preview.element_handle(),
    )
    text = preview.inner_text()
    assert "description: Drafts and reviews wiki pages" in text
    assert "name: wiki-team" in text and "- name: writer" in text and "- name: critic" in text
    assert "from: writer" in text and "to: critic" in text

    builder.get_by_role("button", name="Save").click()
    builder.get_by_text("run it with --team wiki-team").wait_for()
    saved = lab.root.parent / "home" / "teams" / "wiki-team.yaml"
    assert saved.is_file()
    shots(page, "builder", cell(page, 1))

    run_cell(page, 2)
    wait_idle(page)
    loaded = output_text(page, 2)
    assert loaded.strip() == "graph ['writer', 'critic'] [('writer', 'critic')]", loaded
    assert not page.botarmy_errors, page.botarmy_errors


def test_runs_browser_filters_by_status_and_compares(page: Any, lab: Lab, shots: Any) -> None:
    page.set_viewport_size({"width": 1280, "height": 1400})
    start_kernel(
        page,
        lab,
        "runs.ipynb",
        [
            "brief = ba.run('Write a brief', name='brief', max_turns=2).wait(60)\n"
            "plan = ba.run('Plan a wiki', team='planning-room', name='plan', max_turns=3)"
            ".wait(60)\n"
            "stopped = ba.run('Weigh offline sync', model='slow:scripted', name='stopped')\n"
            "import time; time.sleep(2.5)  # a message or two, then Stop\n"
            "print(brief.status, plan.status, stopped.cancel())",
            "%botarmy runs",
        ],
    )
    run_cell(page, 1)
    wait_idle(page)
    assert output_text(page, 1).strip() == "completed completed cancelled"
    run_cell(page, 2)
    runs = cell(page, 2).locator(".jp-OutputArea")
    runs.get_by_text("botarmy runs").wait_for()
    listing = control(runs, "select-multiple", "runs").locator("select")

    def names() -> list[str]:
        return [
            t.replace("\xa0", " ").split()[4] for t in listing.locator("option").all_inner_texts()
        ]

    page.wait_for_function("el => el.options.length >= 3", arg=listing.element_handle())
    assert {"brief", "plan", "stopped"} <= set(names())

    control(runs, "dropdown", "status").locator("select").select_option("cancelled")
    page.wait_for_function(
        "el => el.options.length > 0 &&"
        " [...el.options].every(o => o.textContent.includes('cancelled'))",
        arg=listing.element_handle(),
    )
    assert "stopped" in names() and "brief" not in names()
    control(runs, "dropdown", "status").locator("select").select_option("completed")
    page.wait_for_function(
        "el => el.options.length > 0 &&"
        " [...el.options].every(o => o.textContent.includes('completed'))",
        arg=listing.element_handle(),
    )
    assert {"brief", "plan"} <= set(names()) and "stopped" not in names()

    listing.select_option(index=[names().index("brief"), names().index("plan")])
    runs.get_by_role("button", name="Compare").click()
    runs.get_by_text("totals").wait_for()
    totals = runs.locator("table").first
    assert "team writers-room" in totals.inner_text()
    assert "team planning-room" in totals.inner_text()
    assert "<br>" in runs.locator("table").nth(1).inner_html()  # line breaks kept
    shots(page, "runs-browser", Region(page, cell(page, 2).locator(".jp-InputArea"), totals))
    assert not page.botarmy_errors, page.botarmy_errors
