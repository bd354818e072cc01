"""The local HTTP front door: a threading HTTP server that hands each request to the Gateway."""

from __future__ import annotations

import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from parley_local.runtime import Gateway

log = logging.getLogger("parley.local")


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
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

        def log_message(self, fmt: str, *args: Any) -> None:
            log.info("%s %s", self.address_string(), fmt % args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    server.gateway = gateway
    return server
