"""The control panel through a real InteractiveShell, its widgets on recorded comms."""

from __future__ import annotations

from typing import Any

import pytest
from comm_recorder import choose, click, record_comms, states_sent, type_into
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import start_ipython

from botarmy_nb.notebook.forms import FieldSpec, RunChoice, fields_for, validate_values


@pytest.fixture
def ip(botarmy_home):  # type: ignore[no-untyped-def]
    start_ipython()
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "botarmy_nb")
    return shell


@pytest.fixture
def comms(monkeypatch):  # type: ignore[no-untyped-def]
    return record_comms(monkeypatch)


@pytest.fixture
def written(ip, monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    """What the panel wrote with set_next_input."""
    cells: list[str] = []
    monkeypatch.setattr(ip, "set_next_input", lambda text, replace=False: cells.append(text))
    return cells


def _panel(ip: Any) -> Any:
    from botarmy_nb.notebook.panel import panel

    return panel(shell=ip)


def _row(panel: Any, name: str) -> Any:
    return next(r for r in panel._rows if r.spec.name == name)


def test_the_form_follows_the_template_variables(ip, comms) -> None:  # type: ignore[no-untyped-def]
    panel = _panel(ip)
    choose(panel.kind, "template")
    choose(panel.target, "prd-tmpl")
    assert [r.spec.name for r in panel._rows] == ["project_name", "has_ui"]
    assert _row(panel, "project_name").input.description == "project_name *"  # required
    has_ui = _row(panel, "has_ui").input
    assert list(has_ui.options) == ["", "true", "false"]  # from `has_ui == true`
    assert list(panel._pickers) == ["pm"]  # a model per agent of the run
    choose(panel.target, "architecture-tmpl")
    project_type = _row(panel, "project_type").input
    assert set(project_type.options) == {"web", "fullstack", "api", "service"}
    assert list(panel._pickers) == ["architect"]


def test_start_needs_the_required_values_and_says_so_inline(ip, comms) -> None:  # type: ignore[no-untyped-def]
    import botarmy_nb as ba

    panel = _panel(ip)
    choose(panel.kind, "template")
    choose(panel.target, "prd-tmpl")
    type_into(panel.task, "Write the PRD")
    click(panel.start_button)
    assert "required" in _row(panel, "project_name").message.value
    assert "fill in the marked fields" in panel.message.value
    assert ba.runs().empty
    # the message reached the front end through the widget's comm
    assert any(
        "marked fields" in s.get("value", "")
        for s in states_sent(comms, panel.message.comm.comm_id)
    )


def test_click_start_starts_a_run_and_shows_its_view(ip, comms) -> None:  # type: ignore[no-untyped-def]
    import botarmy_nb as ba

    panel = _panel(ip)
    choose(panel.kind, "template")
    choose(panel.target, "prd-tmpl")
    type_into(panel.task, "Write the PRD")
    type_into(_row(panel, "project_name").input, "Team wiki")
    choose(_row(panel, "has_ui").input, "true")
    click(panel.start_button)
    assert panel.run is not None, panel.message.value
    run = panel.run.wait(60)
    assert run.status == "completed"
    record = run.record
    assert record.template == "prd-tmpl"
    assert record.variables == {"project_name": "Team wiki", "has_ui": "true"}
    assert list(ba.runs()["id"]) == [run.id]
    assert ip.user_ns["_botarmy_run"].id == run.id
    assert panel.view_box.children  # the run's view, below the panel
    assert "started run" in panel.message.value


def test_a_model_per_agent_and_unconfigured_providers(ip, comms, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    panel = _panel(ip)
    type_into(panel.task, "Write about tests")
    assert panel.target.value == "writers-room"
    critic = panel._pickers["critic"]
    labels = dict((value, label) for label, value in critic.provider.options)
    assert labels["scripted"].startswith("✔ scripted")
    assert labels["openai"] == "✘ openai — set OPENAI_API_KEY"
    choose(critic.provider, "openai")
    type_into(critic.model, "gpt-4o-mini")
    click(panel.start_button)
    assert panel.run is None
    assert "OPENAI_API_KEY" in panel.message.value
    choose(critic.provider, "scripted")
    type_into(critic.model, "strict")
    click(panel.start_button)
    calls = panel.run.wait(60).model_calls
    assert set(calls.loc[calls.agent == "critic", "model"]) == {"strict"}
    assert set(calls.loc[calls.agent == "writer", "model"]) == {"scripted"}


def test_write_cell_starts_the_same_run(ip, comms, written) -> None:  # type: ignore[no-untyped-def]
    import botarmy_nb as ba

    panel = _panel(ip)
    choose(panel.kind, "template")
    choose(panel.target, "prd-tmpl")
    type_into(panel.task, "Write the PRD, {braces} stay")
    type_into(_row(panel, "project_name").input, "Team wiki's 'offline' mode")
    choose(panel._pickers["pm"].provider, "scripted")
    type_into(panel._pickers["pm"].model, "strict")
    type_into(panel.run_name, "from the panel")
    click(panel.cell_button)
    assert len(written) == 1
    source = written[0]
    assert source.startswith("%%botarmy --template prd-tmpl --var ")
    assert "--model pm=scripted:strict" in source
    assert ba.runs().empty  # writing the cell starts nothing
    ip.run_cell(source + "\n", store_history=False).raise_error()
    cell_run = ip.user_ns["_botarmy_run"].wait(60)
    click(panel.start_button)
    panel_run = panel.run.wait(60)
    a, b = cell_run.record, panel_run.record
    assert (a.name, a.template, a.task, a.variables, a.model) == (
        b.name,
        b.template,
        b.task,
        b.variables,
        b.model,
    )
    assert a.spec["agent_models"] == b.spec["agent_models"] == {"pm": "scripted:strict"}


def test_filled_from_code(ip, comms) -> None:  # type: ignore[no-untyped-def]
    panel = _panel(ip)
    panel.kind.value = "template"
    panel.target.value = "prd-tmpl"
    panel.task.value = "Write the PRD"
    assert list(panel.fields) == ["project_name", "has_ui"] and list(panel.pickers) == ["pm"]
    assert panel.start() is None and "required" in _row(panel, "project_name").message.value
    panel.fields["project_name"].value = "Wiki"
    panel.pickers["pm"].provider.value = "scripted"
    panel.pickers["pm"].model.value = "strict"
    assert panel.choice().cell_source() == (
        "%%botarmy --template prd-tmpl --var project_name=Wiki --model pm=scripted:strict "
        f"--executor {panel.executor.value}\nWrite the PRD\n"
    )


def test_run_choice_and_field_validation() -> None:
    fields = [
        FieldSpec("a"),
        FieldSpec("b", required=False, choices=("x", "y")),
        FieldSpec("c", required=False),
    ]
    assert validate_values(fields, {"b": "z"}) == {"a": "required", "b": "choose one of x, y"}
    assert validate_values(fields, {"a": "1", "b": "x"}) == {}
    choice = RunChoice("team", "writers-room", "Task", variables={"k": "a b", "empty": ""})
    assert choice.cell_source() == "%%botarmy --team writers-room --var 'k=a b'\nTask\n"
    assert choice.prepare_kwargs()["variables"] == {"k": "a b"}
    from botarmy_nb.errors import ConfigError

    with pytest.raises(ConfigError, match="line break"):
        RunChoice("team", "t", "x", variables={"k": "a\nb"}).cell_source()


def test_workflow_fields_leave_out_what_the_engine_fills(botarmy_home) -> None:  # type: ignore[no-untyped-def]
    names = [f.name for f in fields_for("workflow", "greenfield-fullstack")]
    assert names[0] == "project_name" and "story_number" not in names
