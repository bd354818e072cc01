"""The local HTTP front door: a threading HTTP server that hands each request to the Gateway."""

from __future__ import annotations

import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from parley_local.runtime import Gateway

# Not under the "parley" logger: that one is Powertools' (JSON, at the template's LogLevel), and an access
# line per request through it cost ~4% of the stack's CPU under load. Shown with PARLEY_DEV_LOG_LEVEL=INFO.
# (No "parley" in the name: Powertools' Logger(service="parley") filters such names out of the root handlers.)
log = logging.getLogger("local-access")


class _Server(ThreadingHTTPServer):
    # The listen backlog: ThreadingHTTPServer's default of 5 reset connections when clients arrived at once.
    request_queue_size = 128
    daemon_threads = True


def make_server(host: str, port: int, gateway: Gateway | None = None) -> ThreadingHTTPServer:
    """Bind the port now (so a busy port is reported at once); set `server.gateway` before serving."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "parley-local"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            response = self.server.gateway.handle(self.command, self.path, list(self.headers.items()), body)
            self.send_response(response.status)
            for name, value in response.headers.items():
                if name not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            # Headers and body in one write: as two small writes, the body waited for the client's delayed
            # ACK of the headers (Nagle's algorithm), up to 40 ms per response.
            self._headers_buffer.append(b"\r\n")
            if self.command != "HEAD":
                self._headers_buffer.append(response.body)
            self.flush_headers()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_TRACE = do_CONNECT = _serve

        def log_message(self, fmt: str, *args: Any) -> None:
            log.info("%s %s", self.address_string(), fmt % args)

    server = _Server((host, port), Handler)
    server.gateway = gateway
    return server
