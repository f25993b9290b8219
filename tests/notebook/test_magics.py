"""The magics through a real IPython InteractiveShell."""

from __future__ import annotations

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


def test_cell_magic_waits_and_returns_the_run(ip, capsys) -> None:  # type: ignore[no-untyped-def]
    run = ip.run_cell_magic(
        "botarmy", "--wait --name mine --var topic=tests", "Write about {{topic}}"
    )
    assert run.status == "completed" and run.name == "mine"
    assert ip.user_ns["_botarmy_run"] is run
    assert run.record.task == "Write about tests"
    assert "botarmy live view of run mine" in capsys.readouterr().out


def test_cell_magic_without_wait_returns_while_running(ip, slow_model) -> None:  # type: ignore[no-untyped-def]
    assert ip.run_cell_magic("botarmy", f"--model {slow_model} --max-turns 2", "Short") is None
    run = ip.user_ns["_botarmy_run"]
    assert run.status in ("queued", "running")
    assert run.wait(30).status == "completed"
    assert len(run.messages.query("agent != 'user'")) == 2


def test_per_agent_model_and_interpolate(ip) -> None:  # type: ignore[no-untyped-def]
    ip.user_ns["product"] = "Wiki"
    run = ip.run_cell_magic(
        "botarmy",
        "--wait --interpolate --var audience=devs --model critic=scripted:strict",
        "PRD for {product} aimed at {{audience}}",
    )
    assert run.record.task == "PRD for Wiki aimed at devs"
    calls = run.model_calls
    assert set(calls.loc[calls.agent == "critic", "model"]) == {"strict"}
    assert set(calls.loc[calls.agent == "writer", "model"]) == {"scripted"}


def test_braces_are_literal_without_interpolate(ip) -> None:  # type: ignore[no-untyped-def]
    run = ip.run_cell_magic("botarmy", "--wait", "Explain {json} objects")
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
def test_bad_values_are_usage_errors_and_start_nothing(ip, line, message) -> None:  # type: ignore[no-untyped-def]
    import botarmy_nb as ba

    with pytest.raises(UsageError, match=message):
        ip.run_cell_magic("botarmy", line, "task")
    assert ba.runs().empty


def test_interpolate_names_the_missing_variable(ip) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match=r"uses \{nowhere\}, which is not defined"):
        ip.run_cell_magic("botarmy", "--interpolate", "About {nowhere}")


def test_line_commands(ip, capsys, slow_model) -> None:  # type: ignore[no-untyped-def]
    done = ip.run_cell_magic("botarmy", "--wait --name first", "A task")
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
