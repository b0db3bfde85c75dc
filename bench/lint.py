"""`python -m bench.lint [file]`: the menus linter, with the benchmark journey's action known.

bench/journey.menus.yaml calls `bench.quote`, which production's registry leaves out on
purpose; this registers it, then runs `python -m menus lint` unchanged.
"""

from __future__ import annotations

import sys

import bench.quote  # noqa: F401 - importing it registers bench.quote
from menus.__main__ import main

JOURNEY = "bench/journey.menus.yaml"

if __name__ == "__main__":
    sys.exit(main(["lint", *(sys.argv[1:] or [JOURNEY])]))
