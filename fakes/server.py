"""What every fake provider server shares: a threaded HTTP server on 127.0.0.1 (or the host
given), its base URL, and serving it in a background thread or in the caller's (the CLI)."""

from __future__ import annotations

import contextlib
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class LocalServer:
    """A fake's HTTP server; subclasses call `_listen` with their request handler class."""

    _server: ThreadingHTTPServer
    _thread: threading.Thread

    def _listen(
        self, handler: type[BaseHTTPRequestHandler], port: int = 0, host: str = "127.0.0.1"
    ) -> None:
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def root(self) -> str:
        """Return http://host:port, where the server listens."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        """Return the base URL a provider setting (`*_BASE_URL`) takes."""
        return self.root

    def start(self) -> Self:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def serve_forever(self) -> None:
        """Serve in this thread (the command line)."""
        self._server.serve_forever()

    def serve_until_interrupted(self, what: str) -> int:
        """Say where the fake listens (`what`: its name and the setting to point at it) and
        serve in this thread until Ctrl-C, how a developer stops it; return the exit status."""
        print(f"{what}: {self.url}", file=sys.stderr)
        with contextlib.suppress(KeyboardInterrupt):
            self.serve_forever()
        return 0
