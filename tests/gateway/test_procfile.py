"""The Procfile's worker listens on every queue the code enqueues on (after GOV.UK Notify)."""

from __future__ import annotations

import ast
import importlib
import shlex
from pathlib import Path

from gateway.cli import build_parser
from gateway.devserver import _web_argv
from gateway.queues import QueueNames
from gateway.worker import parse_queues

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "menus", "sessions", "sms", "civic", "payments", "runtime")


def procfile() -> dict[str, list[str]]:
    """Return each Procfile process type and its argv."""
    processes: dict[str, list[str]] = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            processes[name.strip()] = shlex.split(command)
    return processes


def worker_queues() -> list[str]:
    """Return the queues the Procfile's worker listens on, parsed by our own CLI."""
    argv = procfile()["worker"]
    assert argv[:3] == ["python", "-m", "gateway"]
    args = build_parser().parse_args(argv[3:])
    assert args.command == "worker"
    return parse_queues(args.queues)


def package_queue_constants() -> dict[str, str]:
    """Return every `<package>.queues.*_QUEUE` constant the packages expose."""
    found: dict[str, str] = {}
    for package in PACKAGES:
        if not (ROOT / package / "queues.py").exists():
            continue
        module = importlib.import_module(f"{package}.queues")
        for name, value in vars(module).items():
            if name.endswith("_QUEUE") and isinstance(value, str):
                found[f"{package}.queues.{name}"] = value
    return found


def literal_queue_names() -> dict[str, str]:
    """Return queue names written as literals: `Queue("x", ...)`, `Effect(queue="x", ...)`."""
    found: dict[str, str] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                callee = (
                    node.func.attr
                    if isinstance(node.func, ast.Attribute)
                    else getattr(node.func, "id", "")
                )
                values = [kw.value for kw in node.keywords if kw.arg == "queue"]
                if callee in {"Queue", "Effect"} and node.args:
                    values.append(node.args[0])
                for value in values:
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        found[f"{path.relative_to(ROOT)}:{node.lineno}"] = value.value
    return found


def test_the_worker_listens_on_every_queue_name() -> None:
    assert set(QueueNames.all()) <= set(worker_queues())


def test_queue_names_lists_every_queue_a_package_enqueues_on() -> None:
    constants = package_queue_constants()
    assert "sms.queues.SMS_QUEUE" in constants  # the collection really finds them
    missing = {where: q for where, q in constants.items() if q not in QueueNames.all()}
    assert missing == {}


def test_no_literal_queue_name_escapes_queue_names() -> None:
    missing = {where: q for where, q in literal_queue_names().items() if q not in QueueNames.all()}
    assert missing == {}


def test_the_web_process_serves_the_app_factory_with_granian() -> None:
    web = procfile()["web"]
    assert web[0] == "granian"
    assert web[web.index("--interface") + 1] == "wsgi"
    assert web[-2:] == ["--factory", "gateway.app:create_app"]
    assert web[web.index("--host") + 1] == "0.0.0.0"
    assert web[web.index("--port") + 1] == "$PORT"


def test_make_run_serves_with_the_procfile_s_web_command() -> None:
    web = procfile()["web"]
    local = _web_argv(8123)
    assert local[1:3] == ["-m", "granian"]
    expected = [{"0.0.0.0": "127.0.0.1", "$PORT": "8123"}.get(arg, arg) for arg in web[1:]]
    assert local[3:] == expected
