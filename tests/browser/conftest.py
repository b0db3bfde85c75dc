"""Browser tests: the gateway as a real local server, driven by the system's headless Chromium.

Chromium comes from the system package manager (Debian's `chromium`), installed here on first
use when missing and we are root; `playwright install` would download a browser build, which
this project never does. Where it cannot be installed the tests are skipped, saying why.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import runtime
from gateway.app import create_app
from gateway.schema import migrate_all, seed_demo
from tests.live_server import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
INSTALL_TIMEOUT_SECONDS = 900


def _install_chromium() -> str | None:
    """Install Debian's chromium with apt-get; return why not when that cannot be done."""
    if CHROMIUM.exists():
        return None
    if shutil.which("apt-get") is None:
        return "no /usr/bin/chromium and no apt-get to install it"
    if os.geteuid() != 0:
        return "no /usr/bin/chromium and not root: run `apt-get install chromium` once"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
    ):
        try:
            done = subprocess.run(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`{' '.join(argv)}` failed: {exc}"
        if done.returncode != 0:
            return f"`{' '.join(argv)}` failed: {done.stderr.strip()[-300:]}"
    return None if CHROMIUM.exists() else "apt-get ran but /usr/bin/chromium is still missing"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Return the system Chromium, installing it on first use; skip when impossible."""
    reason = _install_chromium()
    if reason is not None:
        pytest.skip(f"browser tests need Chromium: {reason}")
    return str(CHROMIUM)


@pytest.fixture(scope="session")
def browser(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Yield a headless Chromium driven by Playwright, with a fresh profile."""
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium_path,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 760},
            locale="fr-FR",
        )
        yield context
        context.close()


@pytest.fixture
def live_server(app_config: dict[str, Any]) -> Iterator[LiveServer]:
    """Yield the gateway running as a real local HTTP server on the test's Redis and database."""

    server = LiveServer()
    app = create_app({**app_config, "public_base_url": server.url})
    # The tables and the demo city, as `make run` prepares them.
    migrate_all(app.config["SETTINGS"], io.StringIO())
    seed_demo(app.config["SETTINGS"], io.StringIO())
    server.app = app
    server.start()
    yield server
    server.stop()
    runtime.uninstall()


@pytest.fixture
def artifacts() -> Path:
    """Return the git-ignored folder where browser tests leave their screenshots."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
