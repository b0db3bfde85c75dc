"""The benchmarked app: Guichet's own factory with the benchmark journey's action registered.

bench/journey.menus.yaml calls `bench.quote`, which is no production action: importing
bench.quote adds it to the process's registry before the menus compile, so the production
registry (menus.actions) never holds it.
"""

from __future__ import annotations

from flask import Flask

import bench.quote  # noqa: F401 - importing it registers bench.quote
from gateway.app import create_app as create_guichet


def create_app() -> Flask:
    """Build Guichet's app as production does, for the benchmark journey."""
    return create_guichet()
