"""Write a benchmark run into bench/README.md: machine, the harness's table, Guichet's ratios.

    .venv/bin/python bench/report.py RESULTS_DIR --stack STACK [--readme bench/README.md]

RESULTS_DIR holds the harness's JSON (one per peer per round) and summary.md. The section
between the `results` markers of the README is replaced; targets are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
from pathlib import Path
from typing import Any

START, END = "<!-- results:start -->", "<!-- results:end -->"
TARGET = "guichet"


def medians(results: Path) -> dict[str, dict[str, float]]:
    """Return, per peer, the median of each metric over its rounds (errors summed)."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(results.glob("run*_*.json")):
        record = json.loads(path.read_text())
        runs.setdefault(record["label"], []).append(record)
    table: dict[str, dict[str, float]] = {}
    for peer, records in runs.items():
        row: dict[str, float] = {"runs": len(records)}
        for key in ("hops_per_s", "sessions_per_s", "p50_ms", "p99_ms", "server_cpu_pct"):
            values = [r[key] for r in records if r.get(key) is not None]
            if values:
                row[key] = statistics.median(values)
        row["errors"] = sum(r.get("errors", 0) for r in records)
        table[peer] = row
    return table


def machine() -> str:
    """Return one line naming the CPU, cores, kernel, Python, Redis and Node."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    cores = sum(
        1 for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("processor")
    )
    redis_v = _run(["redis-server", "--version"]).split(" v=")[-1].split()[0]
    node = _run(["node", "--version"]) or "-"
    return (
        f"{cpu}, {cores} cores, Linux {platform.release()}, Python {platform.python_version()}, "
        f"Redis {redis_v}, Node {node}"
    )


def _run(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()  # noqa: S603
    except OSError:
        return ""


def section(results: Path, stack: str) -> str:
    """Return the README section for the run in `results`."""
    rows = medians(results)
    meta = (results / "meta.txt").read_text() if (results / "meta.txt").exists() else ""
    settings = next((line for line in meta.splitlines() if line.startswith("runs=")), "")
    date = next((line[6:] for line in meta.splitlines() if line.startswith("date: ")), "?")
    ours = rows.get(TARGET, {})
    lines = [
        f"Run `{results.name}` on {date}: {machine()}.",
        f"Harness settings: {settings}. Guichet served by **{stack}** (`bench/serve.sh`).",
        "",
        "The shared harness's table (medians of the rounds; `vs hello` = ratio to flask_hello):",
        "",
        (results / "summary.md").read_text().strip(),
        "",
        "**Guichet's ratios to each peer, same run** (hops/s ÷ the peer's hops/s):",
        "",
        "| peer | peer hops/s | peer p99 ms | guichet ÷ peer |",
        "|---|---|---|---|",
    ]
    for peer, row in rows.items():
        if peer == TARGET or "hops_per_s" not in row or not ours.get("hops_per_s"):
            continue
        ratio = ours["hops_per_s"] / row["hops_per_s"]
        lines.append(
            f"| {peer} | {row['hops_per_s']:.0f} | {row.get('p99_ms', 0):.1f} | **{ratio:.2f}×** |"
        )
    lines += ["", "Targets (issue 7), reported not asserted:", ""]
    lines += _targets(rows, stack)
    return "\n".join(lines)


def _targets(rows: dict[str, dict[str, float]], stack: str) -> list[str]:
    ours = rows.get(TARGET, {})
    hops = ours.get("hops_per_s")
    if not hops:
        return ["- Guichet did not produce a result in this run."]

    def ratio(peer: str) -> float | None:
        other = rows.get(peer, {}).get("hops_per_s")
        return hops / other if other else None

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    out = []
    base = ratio("flask_baseline")
    if base is not None:
        out.append(
            f"- hops/s ≥ 2.0× flask_baseline as shipped: {base:.2f}× — {verdict(base >= 2.0)}"
        )
    same = ratio(f"flask_baseline@{stack}")
    if same is not None:
        out.append(
            f"- hops/s ≥ 1.0× flask_baseline on our stack ({stack}): {same:.2f}× — "
            f"{verdict(same >= 1.0)}"
        )
    p99 = ours.get("p99_ms", float("inf"))
    out.append(f"- p99 ≤ 20 ms at 64 sessions: {p99:.1f} ms — {verdict(p99 <= 20)}")
    errors = int(ours.get("errors", 0))
    out.append(f"- 0 errors: {errors} — {verdict(errors == 0)}")
    node = ratio("ussd_menu_builder")
    if node is not None:
        out.append(f"- stretch, ≥ ussd-menu-builder: {node:.2f}× — {verdict(node >= 1.0)}")
    return out


def main() -> int:
    """Replace the results section of the README with this run's."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", type=Path)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--readme", type=Path, default=Path(__file__).with_name("README.md"))
    args = parser.parse_args()
    body = section(args.results, args.stack)
    text = args.readme.read_text() if args.readme.exists() else f"{START}\n{END}\n"
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    args.readme.write_text(f"{head}{START}\n{body}\n{END}{tail}")
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
