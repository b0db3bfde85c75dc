"""Product code stands apart from its fakes, its tests and its benchmark.

Production never imports `fakes` (the outside world faked on 127.0.0.1), `tests` or `bench`:
a static check over every import statement of the product packages (including imports inside
functions), and a fresh production interpreter that builds the app and imports every product
module, then lists what it loaded. The benchmark's hard-coded tariff (`bench.quote`) is
registered by `bench.app` only: production's registry lacks it, the benchmark's app has it.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from civic import sql
from tests.gateway.test_golive import live_env

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = (
    "gateway",
    "menus",
    "personal_data",
    "sessions",
    "sms",
    "civic",
    "payments",
    "runtime",
    "text",
)
APART = ("fakes", "tests", "bench")


def imported_names(path: Path) -> set[str]:
    """Return every module name an import statement of `path` names (absolute imports)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def is_apart(name: str) -> bool:
    """Say whether module `name` is a fake, a test or the benchmark."""
    return name.split(".", maxsplit=1)[0] in APART


def test_the_static_check_sees_an_import_of_a_fake(tmp_path: Path) -> None:
    source = tmp_path / "handler.py"
    source.write_text(
        "import json\n\ndef serve() -> None:\n    from fakes.daraja import FakeDaraja\n",
        encoding="utf-8",
    )
    assert {n for n in imported_names(source) if is_apart(n)} == {"fakes.daraja"}


def test_no_product_module_imports_fakes_tests_or_bench() -> None:
    files = [path for package in PRODUCT for path in sorted((ROOT / package).rglob("*.py"))]
    assert len(files) > 100  # every package's modules, not an empty glob
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in imported_names(path)
        if is_apart(name)
    }
    assert offenders == set()


# Run in a fresh interpreter: build the production app, import every product module, then
# print what the process holds (this test process imports the fakes for its fixtures).
# `python -m <package>` modules run their command when imported: the static check covers them.
_IMPORT_EVERYTHING = """
import importlib, json, pkgutil, sys
from gateway.app import create_app
import runtime
app = create_app()
assert app.config["SETTINGS"].env == "production"
runtime.uninstall()
imported = []
for package in {product!r}:
    root = importlib.import_module(package)
    imported.append(package)
    for info in pkgutil.walk_packages(root.__path__, prefix=package + "."):
        if info.name.endswith(".__main__"):
            continue  # runs its command on import; the static check reads its imports
        importlib.import_module(info.name)
        imported.append(info.name)
print(json.dumps({{"imported": imported, "loaded": sorted(sys.modules)}}))
"""


def test_production_imports_every_product_module_and_no_fake(
    tmp_path: Path, redis_url: str
) -> None:
    env = live_env(tmp_path, redis_url)
    sql.migrate(env["DATABASE_URL"])
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GUICHET_", "PAYMENT_"))}
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_EVERYTHING.format(product=PRODUCT)],
        env={**base, **env},
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert {"gateway.app", "payments.providers.daraja", "sms.providers.africastalking"} <= set(
        report["imported"]
    )
    assert [name for name in report["loaded"] if is_apart(name)] == []


def _registered(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_production_registry_has_no_bench_action() -> None:
    code = (
        "import json; from menus.actions import default_registry; "
        "print(json.dumps(default_registry().names()))"
    )
    done = _registered(code)
    assert done.returncode == 0, done.stderr
    names = json.loads(done.stdout)
    assert "civic.documents" in names  # the built-in actions did load
    assert "bench.quote" not in names


def test_the_benchmark_app_registers_its_action_and_compiles_its_journey(
    tmp_path: Path, redis_url: str
) -> None:
    code = (
        "from bench.app import create_app; from menus.registry import actions; "
        "app = create_app(); print('bench.quote' in actions)"
    )
    done = _registered(
        code,
        MENUS_PATH=str(ROOT / "bench" / "journey.menus.yaml"),
        REDIS_URL=redis_url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'bench.db'}",
        GUICHET_ENV="development",
        LOG_LEVEL="WARNING",
    )
    assert (done.returncode, done.stdout) == (0, "True\n"), done.stderr


def test_the_benchmark_journey_lints_only_with_the_benchmark_action() -> None:
    journey = str(ROOT / "bench" / "journey.menus.yaml")
    production = _registered(f"from menus.__main__ import main; main(['lint', {journey!r}])")
    assert "unknown action 'bench.quote'" in production.stderr
    bench = subprocess.run(
        [sys.executable, "-m", "bench.lint", journey],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert bench.returncode == 0, bench.stderr
