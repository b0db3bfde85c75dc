"""The process's service container: objects built once at start-up, looked up by type.

Web handlers get their collaborators from the Flask app; rq jobs run outside any request and
take only ids, so they look their collaborators up here. `gateway.container.build()` fills it
for the web process and for the worker; tests install a fresh one per test.
"""

from runtime.container import Container, current, install, uninstall

__all__ = ["Container", "current", "install", "uninstall"]
