"""The magics through a real IPython InteractiveShell."""

from __future__ import annotations

import re
import sys
import time

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import start_ipython


@pytest.fixture
def ip(botarmy_home):  # type: ignore[no-untyped-def]
    """A real InteractiveShell on the embedded defaults."""
    start_ipython()  # the test shell, once per process
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "botarmy_nb")
    return shell


def test_load_ext_is_light() -> None:
    import subprocess

    code = (
        "import time, sys; t = time.perf_counter(); import botarmy_nb; "
        "from botarmy_nb.notebook import magics; "
        "heavy = [m for m in ('autogen_agentchat', 'pandas', 'sqlalchemy', 'ipywidgets') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _cell(ip, line: str, cell: str):  # type: ignore[no-untyped-def]
    """Run a %%botarmy cell; returns the run it started (``_botarmy_run``)."""
    ip.user_ns.pop("_botarmy_run", None)
    assert ip.run_cell_magic("botarmy", line, cell) is None  # the view shows the run
    return ip.user_ns["_botarmy_run"]


def test_cell_magic_waits_and_keeps_the_run(ip, capsys) -> None:  # type: ignore[no-untyped-def]
    run = _cell(ip, "--wait --name mine --var topic=tests", "Write about {{topic}}")
    assert run.status == "completed" and run.name == "mine"
    assert run.record.task == "Write about tests"
    out = capsys.readouterr().out
    assert "botarmy live view of run mine" in out
    assert out.count("botarmy run mine · completed") == 1  # the summary, once


def test_cell_magic_without_wait_returns_while_running(ip, slow_model) -> None:  # type: ignore[no-untyped-def]
    assert ip.run_cell_magic("botarmy", f"--model {slow_model} --max-turns 2", "Short") is None
    run = ip.user_ns["_botarmy_run"]
    assert run.status in ("queued", "running")
    assert run.wait(30).status == "completed"
    assert len(run.messages.query("agent != 'user'")) == 2


def test_per_agent_model_and_interpolate(ip) -> None:  # type: ignore[no-untyped-def]
    ip.user_ns["product"] = "Wiki"
    run = _cell(
        ip,
        "--wait --interpolate --var audience=devs --model critic=scripted:strict",
        "PRD for {product} aimed at {{audience}}",
    )
    assert run.record.task == "PRD for Wiki aimed at devs"
    calls = run.model_calls
    assert set(calls.loc[calls.agent == "critic", "model"]) == {"strict"}
    assert set(calls.loc[calls.agent == "writer", "model"]) == {"scripted"}


def test_braces_are_literal_without_interpolate(ip) -> None:  # type: ignore[no-untyped-def]
    run = _cell(ip, "--wait", "Explain {json} objects")
    assert run.record.task == "Explain {json} objects"


@pytest.mark.parametrize(
    "line, message",
    [
        ("--max-turns zero", "expected a whole number"),
        ("--var novalue", "expected KEY=VALUE"),
        ("--frobnicate", "unrecognized arguments: --frobnicate"),
        ("--executor spark", "invalid choice: 'spark'"),
        ("--team 'unclosed", "cannot parse options"),
    ],
)
def test_bad_options_are_usage_errors_with_the_usage_line(ip, line, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match=message) as info:
        ip.run_cell_magic("botarmy", line, "task")
    assert "usage: %%botarmy" in str(info.value)


@pytest.mark.parametrize(
    "line, message",
    [
        ("--team nope", "unknown team 'nope'"),
        ("--model nope:x", "unknown provider 'nope'"),
        ("--model ghost=scripted", "unknown agent 'ghost'"),
    ],
)
def test_bad_values_are_usage_errors_and_start_nothing(ip, line, message, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import botarmy_nb as ba

    shown = published(ip, monkeypatch)
    with pytest.raises(UsageError, match=message):
        ip.run_cell_magic("botarmy", line, "task")
    assert ba.runs().empty
    # the view shown at once is taken back: the cell keeps only the error
    assert shown[-1]["data"] == {"text/plain": ""} and shown[-1]["update"]
    assert shown[-1]["display_id"] == shown[0]["display_id"]


def published(ip, monkeypatch) -> list[dict]:  # type: ignore[no-untyped-def]
    """What the cell publishes, with the runs the store held at that moment."""
    import botarmy_nb as ba

    shown: list[dict] = []

    def publish(data, metadata=None, *, transient=None, update=False, **_):  # type: ignore[no-untyped-def]
        shown.append(
            {
                "data": data,
                "update": update,
                "display_id": (transient or {}).get("display_id"),
                "runs": len(ba.runs()),
            }
        )

    monkeypatch.setattr(ip.display_pub, "publish", publish)
    return shown


def test_the_view_is_shown_before_the_run_is_registered(ip, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The first cell shows its view before the imports and the store it waits for."""
    shown = published(ip, monkeypatch)
    run = _cell(ip, "--name early --max-turns 2", "Write a note")
    assert shown[0]["runs"] == 0 and not shown[0]["update"]
    assert "application/vnd.jupyter.widget-view+json" in shown[0]["data"]
    assert shown[0]["data"]["text/plain"] == "botarmy live view of run early"
    assert run.wait(30).status == "completed"


def test_interpolate_names_the_missing_variable(ip) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match=r"uses \{nowhere\}, which is not defined"):
        ip.run_cell_magic("botarmy", "--interpolate", "About {nowhere}")


def test_line_commands(ip, capsys, slow_model) -> None:  # type: ignore[no-untyped-def]
    done = _cell(ip, "--wait --name first", "A task")
    teams = ip.run_line_magic("botarmy", "teams")
    assert set(teams["name"]) >= {"writers-room", "planning-room", "support-swarm", "review-graph"}
    runs = ip.run_line_magic("botarmy", "runs")
    assert list(runs["name"]) == ["first"] and runs.loc[0, "id"] == done.id[:8]
    capsys.readouterr()
    ip.run_line_magic("botarmy", f"show {done.id[:8]}")
    shown = capsys.readouterr().out
    assert "botarmy run first · completed" in shown
    ip.run_line_magic("botarmy", "status")
    status = capsys.readouterr().out
    assert "✔ database" in status and "✔ scripted" in status
    ip.run_cell_magic("botarmy", f"--model {slow_model} --name second", "Slow task")
    live = ip.user_ns["_botarmy_run"]
    time.sleep(0.3)
    ip.run_line_magic("botarmy", "cancel second")
    assert live.status == "cancelled"
    ip.run_line_magic("botarmy", "help")
    assert "%%botarmy" in capsys.readouterr().out
    with pytest.raises(UsageError, match="unknown command 'frob'"):
        ip.run_line_magic("botarmy", "frob")
    with pytest.raises(UsageError, match="no run 'zzz'"):
        ip.run_line_magic("botarmy", "show zzz")
    with pytest.raises(UsageError, match="usage: %botarmy cancel RUN"):
        ip.run_line_magic("botarmy", "cancel")


# -- help, usage lines and bad input (#9) -----------------------------------------------------


def test_help_says_each_usage_once_and_right(ip, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.run_line_magic("botarmy", "help")
    out = capsys.readouterr().out
    assert out.count("usage: %%botarmy [") == 1
    assert "usage: %botarmy [" not in out  # the cell usage with one % would fail
    assert out.count("usage: %botarmy COMMAND") == 1
    for command in ("runs", "show", "attach", "cancel", "resume", "panel", "builder", "status"):
        assert len(re.findall(rf"^  {command}\b", out, re.M)) == 1, command
    assert ip.run_cell_magic("botarmy", "--help", "task") is None
    # (a view of an earlier test's run may still print its last line: match whole lines)
    assert re.search(r"^usage: %%botarmy \[", capsys.readouterr().out, re.M)
    ip.run_line_magic("botarmy", "runs --help")
    assert re.search(r"^usage: %botarmy runs \[", capsys.readouterr().out, re.M)


@pytest.mark.parametrize(
    "command, message, usage",
    [
        ("runs --status bogus", "unknown status 'bogus'; choose one of queued", "runs"),
        ("runs --status complete", "did you mean 'completed'", "runs"),
        ("runs --limit 0", "must be at least 1", "runs"),
        ("runs --since soon", "since='soon' is not a date", "runs"),
        ("runs --team writers-rom", "did you mean 'writers-room'", "runs"),
        ("runs --stauts failed", "did you mean --status", "runs"),
        ("show", "", "show RUN"),
        ("cancel a b", "", "cancel RUN"),
        ("attach --frob x", "", "attach RUN"),
        ("resume", "", "resume RUN"),
        ("runs 'open", "cannot parse options", "COMMAND"),
    ],
)
def test_bad_line_commands_are_usage_errors(ip, command, message, usage) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match=re.escape(message) if message else None) as info:
        ip.run_line_magic("botarmy", command)
    assert f"usage: %botarmy {usage}" in str(info.value)


@pytest.mark.parametrize(
    "line, message",
    [
        ("--teem writers-room", "arguments: --teem writers-room (did you mean --team?)"),
        ("--wiat", "did you mean --wait?"),
        ("--priority 12", "between 0 and 9"),
        ("--timeout -1", "a positive number of seconds"),
        ("--hitl-timeout soon", "a positive number of seconds"),
        ("--tag novalue", "expected KEY=VALUE"),
        ("--var a=1 --var a=2", "--var a given twice ('1', '2')"),
        ("--tag team=x --tag team=y", "--tag team given twice"),
        ("--continue abc --team writers-room", "--continue goes on with the run's own team"),
    ],
)
def test_bad_cell_options_say_what_is_meant(ip, line, message) -> None:  # type: ignore[no-untyped-def]
    import botarmy_nb as ba

    with pytest.raises(UsageError, match=re.escape(message)) as info:
        ip.run_cell_magic("botarmy", line, "task")
    assert "usage: %%botarmy [" in str(info.value)
    assert ba.runs().empty


def test_distributed_and_labelling_options_reach_the_run(ip) -> None:  # type: ignore[no-untyped-def]
    run = _cell(
        ip,
        "--wait --tag team=docs --tag try=2 --queue docs --priority 7 --timeout 600 "
        "--hitl-timeout 5",
        "Write",
    )
    record = run.record
    assert record.tags == {"team": "docs", "try": "2"}
    assert (record.queue, record.priority, record.timeout_s) == ("docs", 7, 600.0)
    assert record.spec.get("hitl_timeout_s") == 5.0


def test_a_failed_wait_cell_stops_run_all(ip, slow_model, capsys) -> None:  # type: ignore[no-untyped-def]
    from botarmy_nb.notebook.magics import RunDidNotComplete

    result = ip.run_cell("%%botarmy --wait --model broken:scripted --name bad\nTask\n")
    assert isinstance(result.error_in_exec, RunDidNotComplete)
    captured = capsys.readouterr()
    shown = captured.out + captured.err
    assert "RunDidNotComplete: run bad" in shown and "failed" in shown
    assert "Traceback" not in shown and "magics.py" not in shown  # one clear line
    assert ip.user_ns["_botarmy_run"].status == "failed"


def test_one_run_commands_refuse_a_shared_name(ip, capsys) -> None:  # type: ignore[no-untyped-def]
    first = _cell(ip, "--wait --name demo", "One")
    second = _cell(ip, "--wait --name demo", "Two")
    for command in ("show", "attach", "cancel", "resume"):
        with pytest.raises(UsageError, match="2 runs are named 'demo'") as info:
            ip.run_line_magic("botarmy", f"{command} demo")
        assert first.id[:8] in str(info.value) and second.id[:8] in str(info.value)
        assert f"{first.record.created_at:%Y-%m-%d %H:%M}" in str(info.value)
    capsys.readouterr()
    ip.run_line_magic("botarmy", f"show {first.id[:6]}")
    assert f"id {first.id[:8]}" in capsys.readouterr().out
    ip.run_line_magic("botarmy", f"cancel {second.id}")
    assert "already ended: completed" in capsys.readouterr().out


def test_continue_is_refused_until_the_api_has_it(ip, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from botarmy_nb import api

    first = _cell(ip, "--wait --name chat", "Hello")
    for name in ("continue_run", "reply"):
        monkeypatch.delattr(api, name, raising=False)
    with pytest.raises(UsageError, match="--continue is not available yet"):
        ip.run_cell_magic("botarmy", f"--continue {first.id[:8]}", "And then?")
    calls = []

    def continue_run(ref: str, task: str, **options):  # type: ignore[no-untyped-def]
        calls.append((ref, task, options))
        return api.get_run(ref)

    monkeypatch.setattr(api, "continue_run", continue_run, raising=False)
    ip.run_cell_magic("botarmy", "--continue chat --max-turns 2", "And then?")
    assert calls == [(first.id, "And then?", {"max_turns": 2})]


def test_runs_is_a_table_without_a_front_end_and_a_browser_with_one(ip, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from botarmy_nb.notebook.browser import RunsBrowser

    _cell(ip, "--wait --name a", "A")
    _cell(ip, "--wait --name b --team planning-room", "B")
    table = ip.run_line_magic("botarmy", "runs --team planning-room")
    assert list(table["name"]) == ["b"]
    assert list(ip.run_line_magic("botarmy", "runs --since 1h --limit 1")["name"]) == ["b"]
    assert ip.run_line_magic("botarmy", "runs --until 2000-01-01").empty
    monkeypatch.setattr(ip, "kernel", object(), raising=False)  # as in a Jupyter kernel
    browser = ip.run_line_magic("botarmy", "runs --status completed")
    assert isinstance(browser, RunsBrowser)
    assert browser.status.value == "completed" and len(browser.runs.options) == 2
    table = ip.run_line_magic("botarmy", "runs --table")
    assert list(table["name"]) == ["a", "b"]


def test_panel_and_builder_line_commands(ip) -> None:  # type: ignore[no-untyped-def]
    from botarmy_nb.notebook.builder import TeamBuilder
    from botarmy_nb.notebook.panel import ControlPanel

    assert isinstance(ip.run_line_magic("botarmy", "panel"), ControlPanel)
    assert isinstance(ip.run_line_magic("botarmy", "builder"), TeamBuilder)
    with pytest.raises(UsageError, match="usage: %botarmy panel"):
        ip.run_line_magic("botarmy", "panel extra")


def test_continue_a_finished_team_run(ip, capsys) -> None:  # type: ignore[no-untyped-def]
    from botarmy_nb import api

    if not hasattr(api, "reply"):
        pytest.skip("this version of the API has no reply")
    first = _cell(ip, "--wait --name chat", "Write a haiku")
    before = len(first.messages)
    with pytest.raises(UsageError, match="drop --model, --var"):
        ip.run_cell_magic("botarmy", "--continue chat --model scripted --var a=b", "More")
    again = _cell(ip, f"--continue {first.id[:8]} --wait", "Now make it shorter")
    assert again.id == first.id and again.status == "completed"
    contents = list(again.messages["content"])
    assert len(contents) > before and "Now make it shorter" in contents
