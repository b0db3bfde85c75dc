"""Our WSGI app served on an ephemeral port of 127.0.0.1, for tests that need real callbacks.

The port is known once the socket is bound and the app often needs it (the sandbox payment
provider calls the gateway back on its own URL), so the app is attached after start-up.
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server


class LiveServer:
    """A threaded werkzeug server whose app is set once its URL is known."""

    def __init__(self) -> None:
        self.app: Flask | None = None
        self._server: BaseWSGIServer = make_server("127.0.0.1", 0, self._dispatch, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _dispatch(self, environ: dict[str, Any], start_response: Any) -> Any:
        assert self.app is not None, "the app is not built yet"
        return self.app(environ, start_response)

    @property
    def url(self) -> str:
        """Return the server's base URL."""
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> LiveServer:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
