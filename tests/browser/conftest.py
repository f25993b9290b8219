"""A real JupyterLab on loopback and a real headless Chromium driving it.

Debian's ``chromium`` (``apt-get install chromium``) and the PyPI ``playwright`` package,
never a downloaded browser: Playwright launches ``/usr/bin/chromium`` with a fresh
profile. JupyterLab listens on 127.0.0.1 with a random token, with its own home,
settings, workspaces and runtime folders. Without chromium or playwright the tests skip
with the reason; ``BOTARMY_REQUIRE_SERVICES=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_lab import PROVIDERS, Lab

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "docs" / "screenshots"


def service_unavailable(what: str, why: str) -> None:
    """Skip with the reason, or fail when CI demands the real thing."""
    message = f"{what} is not available ({why})"
    if os.environ.get("BOTARMY_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " and BOTARMY_REQUIRE_SERVICES=1")
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        service_unavailable("playwright (pip install playwright)", str(exc))
    if not Path(CHROMIUM).exists():
        service_unavailable("Debian's chromium (apt-get install chromium)", f"no {CHROMIUM}")
    return sync_playwright


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    _playwright()  # skip early, before starting a server
    base = tmp_path_factory.mktemp("lab")
    root, home = base / "notebooks", base / "home"
    root.mkdir()
    (root / "test_providers.py").write_text(PROVIDERS)
    settings = base / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    # no news, no update checks: nothing leaves the machine, no pop-up covers the cells
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTARMY_")}
    env.update(
        BOTARMY_HOME=str(home),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTERLAB_SETTINGS_DIR=str(base / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
        PYTHONPATH=str(REPO),
    )
    log = (base / "lab.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter", "lab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.expose_app_in_browser=True", "--LabApp.extension_manager=readonly",
            "--allow-root",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            request = urllib.request.Request(
                f"{url}/api/status", headers={"Authorization": f"token {token}"}
            )
            urllib.request.urlopen(request, timeout=2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("JupyterLab did not start:\n" + (base / "lab.log").read_text()[-3000:])
            time.sleep(0.3)
    try:
        yield Lab(url, token, root, process)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def browser_context(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    sync_playwright = _playwright()
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),  # a fresh --user-data-dir
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-default-apps",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--metrics-recording-only",
            ],
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context: Any, tmp_path: Path) -> Iterator[Any]:
    """A new tab; what it showed last is saved as ``last-page.png`` in the test's folder."""
    page = browser_context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.botarmy_errors = errors
    try:
        yield page
    finally:
        try:
            page.screenshot(path=str(tmp_path / "last-page.png"))
        finally:
            page.close()


@pytest.fixture
def shots(tmp_path: Path) -> Any:
    """Save a screenshot in the test's folder; with BOTARMY_UPDATE_SCREENSHOTS=1 also under
    docs/screenshots/ (the README's pictures), so a test run leaves the checkout clean."""

    def shoot(page: Any, name: str, element: Any = None) -> Path:
        target = tmp_path / f"{name}.png"
        (element or page).screenshot(path=str(target))
        if os.environ.get("BOTARMY_UPDATE_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target, SCREENSHOTS / f"{name}.png")
        return target

    return shoot
