"""`make run`: tables and demo data, then granian + an rq worker (or one emulated process).

The two children share one process group of their own, so Ctrl-C reaches only this
supervisor, which stops both in order and waits for them; if either dies, the other is
stopped too, so a half-running gateway never lingers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Final, TextIO

import requests
from werkzeug.serving import make_server

from gateway import container as composition
from gateway import golive, simulator
from gateway.config import Settings
from gateway.emulation import create_emulated_app
from gateway.queues import QueueNames
from gateway.schema import migrate_all, seed_demo
from gateway.services import services_of
from menus.model import MenuSpec
from runtime.packs import pack

STARTUP_TIMEOUT: Final = 30.0  # seconds for the web server to answer /healthz
STOP_TIMEOUT: Final = 10.0  # seconds for a graceful stop before SIGKILL
DEFAULT_SERVICE_CODE: Final = "*384*12#"
DEMO_PHONE: Final = "+243810000001"  # when a city pack names no demo citizen

EMULATION_BANNER: Final = """
################################################################################
#  WARNING: NO REDIS. Guichet is running on an IN-PROCESS REDIS EMULATION.     #
#  Sessions vanish on restart, only ONE process serves, and jobs (SMS,         #
#  payment pushes) run INLINE inside the USSD hop. For development only:       #
#  install redis-server (or set REDIS_URL) and run `make run` again.           #
################################################################################
"""


def run(port: int, *, emulate_redis: bool, out: TextIO = sys.stdout) -> int:
    """Prepare the database, then serve until Ctrl-C or SIGTERM; return the exit status."""
    if emulate_redis:
        os.environ["GUICHET_EMULATE_REDIS"] = "1"
    # The children inherit it: PUBLIC_BASE_URL's default (where the sandbox payment provider
    # calls us back) and `dial`'s default URL follow $PORT, so --port must reach them too.
    os.environ["PORT"] = str(port)
    settings = Settings.from_env()
    migrate_all(settings, out)
    seed_demo(settings, out)
    if settings.emulate_redis:
        return _serve_emulated(settings, port, out)
    return _supervise(settings, port, out)


def dial_hint(port: int, service_code: str, phone: str = DEMO_PHONE) -> str:
    """Return the command that dials the local gateway."""
    url = f"http://127.0.0.1:{port}/ussd/africastalking"
    return f"{_python()} -m gateway dial '{service_code}' --phone {phone} --url {url}"


def _python() -> str:
    # Name the interpreter that has our packages: the project's venv, relative to the repo.
    here = Path.cwd()
    executable = Path(sys.executable)
    return str(executable.relative_to(here)) if executable.is_relative_to(here) else "python"


def _service_code(settings: Settings) -> str:
    # Build the container once here too: a bad config or menus.yaml fails before any child.
    spec = composition.build(settings).find(MenuSpec)
    return spec.service_code if spec is not None else DEFAULT_SERVICE_CODE


def _announce(port: int, service_code: str, settings: Settings, out: TextIO) -> None:
    if settings.env == "development":
        print(golive.PLAY_MONEY_BANNER, file=out)
        for line in settings.play_money():
            print(f"  - {line}", file=out)
    print(f"\nGuichet is up at http://127.0.0.1:{port} (Ctrl-C stops it). Dial it:", file=out)
    # The city pack's demo citizen (rehearsal.yaml), so the demo data answers at once.
    phone = pack(settings.city).demo_phone() or DEMO_PHONE
    print(f"  {dial_hint(port, service_code, phone)}", file=out)
    if simulator.enabled(settings):
        print(f"or open the phone simulator: http://127.0.0.1:{port}/simulator", file=out)
    print(file=out, flush=True)


def _serve_emulated(settings: Settings, port: int, out: TextIO) -> int:
    print(EMULATION_BANNER, file=sys.stderr, flush=True)
    app = create_emulated_app()
    server = make_server("127.0.0.1", port, app, threaded=False)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever to notice: never call it from its own thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    spec = services_of(app).find(MenuSpec)
    code = spec.service_code if spec is not None else DEFAULT_SERVICE_CODE
    _announce(port, code, app.config["SETTINGS"], out)
    server.serve_forever()
    print("stopped", file=out)
    return 0


class _Stop:
    """Set by SIGINT/SIGTERM: the supervisor loop then stops the children."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, _signum: int, _frame: FrameType | None) -> None:
        self.requested = True


def _supervise(settings: Settings, port: int, out: TextIO) -> int:
    service_code = _service_code(settings)
    stop = _Stop()
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    web = subprocess.Popen(_web_argv(port), process_group=0)  # noqa: S603 - our own argv
    worker = subprocess.Popen(_worker_argv(), process_group=web.pid)  # noqa: S603
    children = [web, worker]
    names = {web.pid: "granian", worker.pid: "rq worker"}
    status = 0
    try:
        if _wait_healthy(port, children, stop):
            _announce(port, service_code, settings, out)
        while not stop.requested:
            dead = [child for child in children if child.poll() is not None]
            if dead:
                print(f"{names[dead[0].pid]} exited: stopping", file=out)
                status = 1
                break
            time.sleep(0.2)
    finally:
        _stop_group(web.pid, children)
    print("stopped", file=out)
    return status


def _web_argv(port: int) -> list[str]:
    # granian: the serving stack measured fastest for USSD hops (bench/README.md); the same
    # command as the Procfile's web process, on 127.0.0.1.
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "wsgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "3",
        "--blocking-threads",
        "3",
        "--no-ws",
        "--no-access-log",
        "--factory",
        "gateway.app:create_app",
    ]


def _worker_argv() -> list[str]:
    # The worker class measured fastest for SMS (bench/README.md), as in the Procfile.
    queues = ",".join(QueueNames.all())
    return [
        sys.executable,
        "-m",
        "gateway",
        "worker",
        "--queues",
        queues,
        "--worker-class",
        "preload",
    ]


def _wait_healthy(port: int, children: Sequence[subprocess.Popen[bytes]], stop: _Stop) -> bool:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline and not stop.requested:
        if any(child.poll() is not None for child in children):
            return False
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.2)
    return False


def _stop_group(pgid: int, children: Sequence[subprocess.Popen[bytes]]) -> None:
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(pgid, signal.SIGKILL)
            child.wait()


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # every member has already exited
        os.killpg(pgid, signum)
