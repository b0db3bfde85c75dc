"""Where a web handler finds the process's services: the container the app was built with.

Its own module, below gateway.app: blueprints read it, and the app imports the blueprints.
"""

from __future__ import annotations

from flask import Flask

import runtime

EXTENSION_KEY = "guichet"  # app.extensions[EXTENSION_KEY] holds the container


def services_of(app: Flask) -> runtime.Container:
    """Return the service container the app was built with."""
    container: runtime.Container = app.extensions[EXTENSION_KEY]
    return container
