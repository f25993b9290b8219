"""The botarmy-nb command, run as a real subprocess like a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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
    assert "schema empty → 0001" in result.stdout
    engine = create_store_engine(pg_url)
    assert current_revision(engine) == head_revision(engine)
    engine.dispose()
    status = botarmy("status", home=botarmy_home, env={"BOTARMY_DATABASE_URL": pg_url})
    assert "✔ database" in status.stdout and "(schema 0001)" in status.stdout
