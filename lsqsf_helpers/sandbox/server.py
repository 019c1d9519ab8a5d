"""The sandbox's one HTTP server: plain HTTP on loopback, one thread per connection.

Translates sockets to `Request`/`Response` values and back; everything else is the app's job. It
refuses to bind anywhere but 127.0.0.1: the sandbox hands out credentials and must never be
reachable from another machine.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lsqsf_helpers.sandbox.app import SandboxApp
from lsqsf_helpers.sandbox.messages import Request, Response

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
MAX_BODY_BYTES = (
    1024 * 1024
)  # larger bodies get 413 (Salesforce's own limits are larger; see docs/sandbox.md)


class SandboxBindError(ValueError):
    """The sandbox was asked to listen somewhere other than loopback."""


class _Handler(BaseHTTPRequestHandler):
    server: SandboxHTTPServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # keep-alive answers otherwise wait ~40 ms for the client's delayed ACK
    server_version = "lsqsf-sandbox"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        host = self.headers.get("Host", "")
        length_text = self.headers.get("Content-Length", "0") or "0"
        try:
            length = int(length_text)
        except ValueError:
            length = -1
        if length < 0:
            self._write(Response.text(400, "Bad Content-Length\n"))
            return
        if length > MAX_BODY_BYTES:
            self.close_connection = True  # the unread body must not be taken for the next request
            self._write(
                self.server.app.too_large(Request.build(self.command, host, self.path, dict(self.headers)))
            )
            return
        body = self.rfile.read(length) if length else b""
        request = Request.build(self.command, host, self.path, dict(self.headers), body)
        response = self.server.app.handle(request)
        if response.drop:
            self.close_connection = True
            return
        self._write(response)

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, app: SandboxApp, host: str = LOOPBACK, port: int = 0) -> None:
        if host not in (LOOPBACK, "localhost"):
            raise SandboxBindError(f"the sandbox listens on {LOOPBACK} only, not {host!r}")
        self.app = app
        super().__init__((LOOPBACK, port), _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout, dropped connection) is routine here, not worth a traceback."""
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            log.debug("client %s went away", client_address)
            return
        log.exception("sandbox request from %s failed", client_address)


class Sandbox:
    """A running sandbox: `with Sandbox() as sb: sb.url` serves every scenario on an ephemeral port."""

    def __init__(
        self, scenario_names: list[str] | None = None, *, host: str = LOOPBACK, port: int = 0
    ) -> None:
        self.app = SandboxApp(scenario_names)
        self.httpd = SandboxHTTPServer(self.app, host, port)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.port

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> Sandbox:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.05,), name="lsqsf-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
