"""The wheel carries what the package needs at run time: install it elsewhere and run the demo."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return next(out.glob("botarmy_nb-*.whl"))


def test_wheel_contains_migrations_teams_and_bmad_core(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "botarmy_nb/_migrations/env.py" in names
    assert any(n.startswith("botarmy_nb/_migrations/versions/0001") for n in names)
    assert "botarmy_nb/teams/writers-room.yaml" in names
    assert any(n.startswith("botarmy_nb/_bmad_core/") for n in names)


def test_demo_runs_from_the_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    with zipfile.ZipFile(wheel) as zf:  # a wheel install is an unzip (no pip needed)
        zf.extractall(site)
    # dependencies come from the test environment, but not this checkout (no editable hook)
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTARMY_")}
    env["BOTARMY_HOME"] = str(tmp_path / "home")
    code = (
        "import botarmy_nb, botarmy_nb.store.migrate as m, sys;"
        "print(botarmy_nb.__file__); print(m.migrations_dir());"
        "print(sorted(botarmy_nb.load_bmad().workflows));"
        "from botarmy_nb.cli import main; sys.argv = ['botarmy-nb', 'demo']; main()"
    )
    result = subprocess.run(
        [str(python), "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(str(site)) and lines[1].endswith("botarmy_nb/_migrations")
    assert "greenfield-service" in lines[2]  # the bundled bmad-core came with the wheel
    assert "botarmy run demo · completed" in result.stdout
