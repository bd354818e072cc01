"""moto server (the SQS, S3 and, with --moto, DynamoDB emulation) in its own process.

Why a process of its own and not a thread of the stack: moto is pure Python, and in the stack's process
its request handling competed with the gateway, the handlers and the queue pump for one interpreter lock;
every AWS request of a handler then waited for moto *and* for the lock on each socket operation (measured:
single GetItem/Query calls of 50-100 ms under 8 clients). Here it gets a core of its own.

Two differences from `python -m moto.server`:
- keep-alive: werkzeug's development server closes the connection after every response (and then waits
  10 ms draining the socket), so each boto3 request paid a new TCP connection; the handler below keeps
  it open;
- one request at a time: moto's backends are not thread-safe (concurrent requests raised "dictionary
  changed size during iteration"), so every request runs under one lock, released only while an SQS long
  poll waits for messages (else one waiting ReceiveMessage would hold up every other request).

    python -m parley_local.emulation --port 5000     # serves until SIGTERM; dies with its parent
"""

from __future__ import annotations

import argparse
import io
import signal
import sys
import threading
from typing import Any

from parley_local.children import ChildProcess

_REQUEST_LOCK = threading.Lock()


def _serialized(app: Any) -> Any:
    def serve(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with _REQUEST_LOCK:
            return list(app(environ, start_response))  # the whole body is produced under the lock

    return serve


def _release_lock_while_long_polling() -> None:
    from moto.sqs.models import Queue

    wait_for_messages = Queue.wait_for_messages

    def wait_unlocked(self: Any, timeout: int) -> None:
        _REQUEST_LOCK.release()
        try:
            wait_for_messages(self, timeout)
        finally:
            _REQUEST_LOCK.acquire()

    Queue.wait_for_messages = wait_unlocked


def _cache_per_request_lookups() -> None:
    """moto recomputes constant things on every request: the list of its service modules by listing its
    package directory (`isdir` per entry), and each response class's method names (`inspect.getmembers`),
    and the action name's snake case. Together about 40% of its CPU per SQS request; all three depend
    only on their arguments, so they are computed once here."""
    import functools

    from moto import backends
    from moto.core import responses

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    responses.method_names_from_class = functools.lru_cache(maxsize=None)(responses.method_names_from_class)
    responses.camelcase_to_underscores = functools.lru_cache(maxsize=4096)(responses.camelcase_to_underscores)


def strict_fifo() -> None:
    """Make moto's FIFO queues keep a group's order when a visibility timeout passes.

    moto counts a group as in flight while any message of it is in its set of received messages, and takes a
    message whose visibility timeout has passed out of that set only when its receive loop reaches it. So
    when a batch of a group (messages 2 and 3) timed out, message 2 was skipped because message 3 still
    looked in flight, and message 3 was delivered first. SQS delivers 2 first: only messages still within
    their visibility timeout hold up their group. Each receive now starts by forgetting the timed-out ones."""
    from moto.sqs.models import SQSBackend

    receive = SQSBackend.receive_message
    if getattr(receive, "strict_fifo", False):
        return

    def receive_in_order(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        pending = self.get_queue(queue_name).pending_messages
        pending.difference_update([message for message in pending if message.visible])
        return receive(self, queue_name, *args, **kwargs)

    receive_in_order.strict_fifo = True
    SQSBackend.receive_message = receive_in_order


def make_server(host: str, port: int) -> Any:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server as werkzeug_server

    class KeepAliveHandler(MotoRequestHandler):
        """moto's request handling (its environ, with S3's underscored headers) with werkzeug's response
        writing replaced: werkzeug always answers `Connection: close` and then drains the socket, which
        would swallow the next request of a kept-alive connection. The request body is read whole first
        and the response is sent with its length, so the connection stays usable."""

        protocol_version = "HTTP/1.1"

        def run_wsgi(self) -> None:
            environ = self.make_environ()
            if environ.get("wsgi.input_terminated"):  # chunked: werkzeug wraps the de-chunking reader
                body = environ["wsgi.input"].read()
            else:
                body = self.rfile.read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            started: list[Any] = []
            chunks: list[bytes] = []

            def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                started[:] = [status, headers]
                return chunks.append

            try:
                result = self.server.app(environ, start_response)
                try:
                    chunks.extend(result)
                finally:
                    if hasattr(result, "close"):
                        result.close()
            except Exception:
                self.close_connection = True
                self.send_error(500)
                raise
            status, headers = started
            code, _, reason = status.partition(" ")
            payload = b"".join(chunks)
            self.send_response(int(code), reason)
            declared_length = None
            for name, value in headers:
                lowered = name.lower()
                if lowered == "content-length":
                    declared_length = value
                elif lowered not in ("transfer-encoding", "connection"):
                    self.send_header(name, value)
            # HEAD (S3 HeadObject) declares the object's length without sending it
            head = self.command == "HEAD"
            self.send_header("Content-Length", str(declared_length if head and declared_length else len(payload)))
            # Headers and body in one write: as two small writes, the second waited for the client's
            # delayed ACK of the first (Nagle), up to 40 ms per request.
            self._headers_buffer.append(b"\r\n")
            if not head:
                self._headers_buffer.append(payload)
            self.flush_headers()

        def log_request(self, *args: Any) -> None:
            pass

    _release_lock_while_long_polling()
    _cache_per_request_lookups()
    strict_fifo()
    app = _serialized(DomainDispatcherApplication(create_backend_app))
    server = werkzeug_server(host, port, app, threaded=True, request_handler=KeepAliveHandler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="parley-emulation", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    server = make_server(args.host, args.port)

    def stop(*_: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.5)
    return 0


class EmulationProcess(ChildProcess):
    """`python -m parley_local.emulation` as a child of the stack (SIGTERM when the stack dies)."""

    name = "the AWS emulation (moto)"

    def spawn(self) -> EmulationProcess:
        self.launch([sys.executable, "-m", "parley_local.emulation", "--port", str(self.port)])
        return self


if __name__ == "__main__":
    sys.exit(main())
