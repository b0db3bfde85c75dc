"""Start-up time with a 200-screen menus file: generate it, lint it, time load + compile + app.

    .venv/bin/python bench/startup.py [--screens 200]

Prints the time of menus.loader.load_menus (YAML, schema, templates, validators), of the
engine's compile (MenuMachine + Renderer + HopHandler, inside create_app), of the whole
create_app(), and of a fresh interpreter importing and building the app.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))


def generate(screens: int) -> str:
    """Return a lint-clean menus file: the bench journey plus `screens` more screens."""
    base = (HERE / "journey.menus.yaml").read_text()
    head, _, rest = base.partition("screens:\n")
    lines = [
        head + "screens:\n",
        rest.replace('next: unavailable}\n      - {key: "3"', 'next: g0}\n      - {key: "3"', 1),
    ]
    extra = screens - 9  # the journey has 9
    for n in range(extra):
        nxt = f"g{n + 1}" if n + 1 < extra else "unavailable"
        if n % 2 == 0:
            lines.append(
                f"  g{n}:\n    type: menu\n"
                f'    text: {{fr: "Ecran {n}", en: "Screen {n}", sw: "Skrini {n}"}}\n'
                "    options:\n"
                f'      - {{key: "1", label: {{fr: "Suite", en: "Next", sw: "Endelea"}}, '
                f"next: {nxt}}}\n"
                '      - {key: "2", label: {fr: "Fin", en: "End", sw: "Mwisho"}, '
                "next: unavailable}\n"
            )
        else:
            lines.append(
                f"  g{n}:\n    type: input\n"
                f'    text: {{fr: "Saisie {n}", en: "Entry {n}", sw: "Ingizo {n}"}}\n'
                f"    save_as: v{n}\n"
                '    validators: [{type: regex, pattern: "^[0-9]{1,6}$"}]\n'
                f"    next: {nxt}\n"
            )
    return "".join(lines)


def main() -> int:
    """Print the start-up figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--screens", type=int, default=200)
    args = parser.parse_args()
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        handle.write(generate(args.screens))
    path = handle.name
    env = {
        **os.environ,
        "MENUS_PATH": path,
        "REDIS_URL": "redis://127.0.0.1:6379/7",
        "DATABASE_URL": "sqlite:////tmp/guichet-bench.db",
        "LOG_LEVEL": "WARNING",
    }
    python = sys.executable
    argv = [python, "-m", "bench.lint", path]
    lint = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    print(f"lint: {lint.stdout.strip() or lint.stderr.strip()}")
    os.environ.update(env)
    from bench.app import create_app  # noqa: PLC0415
    from menus.hop import HopHandler  # noqa: PLC0415
    from menus.loader import load_menus  # noqa: PLC0415
    from menus.machine import MenuMachine  # noqa: PLC0415

    best = {"load": 1e9, "machine": 1e9, "app": 1e9}
    for _ in range(3):
        t0 = time.perf_counter()
        spec = load_menus(path)
        t1 = time.perf_counter()
        MenuMachine(spec)
        t2 = time.perf_counter()
        app = create_app()
        t3 = time.perf_counter()
        best = {
            "load": min(best["load"], t1 - t0),
            "machine": min(best["machine"], t2 - t1),
            "app": min(best["app"], t3 - t2),
        }
    assert app.extensions["guichet"].get(HopHandler) is not None
    code = (
        "import time; t=time.perf_counter(); from bench.app import create_app; "
        "create_app(); print(time.perf_counter()-t)"
    )
    cold = min(
        float(
            subprocess.run(  # noqa: S603
                [python, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(3)
    )
    print(
        f"{len(spec.screens)} screens: load_menus {best['load'] * 1000:.0f} ms, "
        f"MenuMachine {best['machine'] * 1000:.0f} ms, create_app {best['app'] * 1000:.0f} ms, "
        f"fresh interpreter import + create_app {cold * 1000:.0f} ms (best of 3)"
    )
    Path(path).unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
