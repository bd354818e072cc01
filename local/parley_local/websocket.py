"""The WebSocket API of template.yaml, emulated: `$connect` (with its Lambda REQUEST authorizer),
`$disconnect`, `$default`, and the stage's `@connections` management API, so the same handlers run.

The WebSocket side is a `websockets` asyncio server on a thread of its own; each route's function runs in a
worker thread through `invoke(function logical id, event)` (the HTTP gateway's function pools). The
management API (POST/GET/DELETE /@connections/{id}) is a small HTTP server on another port: the worker's
`apigatewaymanagementapi` client is pointed at it through WEBSOCKET_ENDPOINT. As on AWS, a post to an
unknown or closed connection is 410 GoneException, and a message over 128 KB is refused.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from parley_local.resources import ACCOUNT, REGION
from parley_local.template import Stack

log = logging.getLogger("parley_local.websocket")
MAX_MESSAGE_BYTES = 128 * 1024  # API Gateway's WebSocket message limit
_FUNCTION_IN_URI = re.compile(r"\$\{([A-Za-z0-9]+)\.Arn\}")


@dataclass(frozen=True)
class WebSocketRoutes:
    """What the emulation reads from the template's AWS::ApiGatewayV2 resources of the WEBSOCKET API."""

    stage: str
    selection_expression: str
    functions: dict[str, str]  # route key -> function logical id
    replies: frozenset[str]  # route keys whose handler's body goes back to the client (a route response)
    authorizer: str | None  # function logical id of the $connect authorizer
    identity_sources: tuple[str, ...]

    @classmethod
    def from_stack(cls, stack: Stack) -> WebSocketRoutes:
        apis = [
            name
            for name, res in stack.of_type("AWS::ApiGatewayV2::Api").items()
            if res["Properties"].get("ProtocolType") == "WEBSOCKET"
        ]
        if len(apis) != 1:
            raise LookupError("template.yaml must define exactly one WEBSOCKET AWS::ApiGatewayV2::Api")
        api = apis[0]

        def of_api(kind: str) -> dict[str, dict[str, Any]]:
            return {
                name: res["Properties"]
                for name, res in stack.of_type(kind).items()
                if res["Properties"].get("ApiId") == {"Ref": api}
            }

        def function_of(uri: Any) -> str:
            return _FUNCTION_IN_URI.search(uri["Fn::Sub"]).group(1)

        integrations = of_api("AWS::ApiGatewayV2::Integration")
        authorizers = of_api("AWS::ApiGatewayV2::Authorizer")
        routes = of_api("AWS::ApiGatewayV2::Route")
        responses = {props["RouteId"]["Ref"] for props in of_api("AWS::ApiGatewayV2::RouteResponse").values()}
        functions, replies, authorizer, identity = {}, set(), None, ()
        for name, props in routes.items():
            integration = props["Target"]["Fn::Sub"].split("${", 1)[1].rstrip("}")
            functions[props["RouteKey"]] = function_of(integrations[integration]["IntegrationUri"])
            if name in responses:
                replies.add(props["RouteKey"])
            if props.get("AuthorizationType") == "CUSTOM":
                settings = authorizers[props["AuthorizerId"]["Ref"]]
                authorizer = function_of(settings["AuthorizerUri"])
                identity = tuple(settings.get("IdentitySource") or ())
        stage = next(iter(of_api("AWS::ApiGatewayV2::Stage").values()))["StageName"]
        selection = stack.resources[api]["Properties"]["RouteSelectionExpression"]
        return cls(stage, selection, functions, frozenset(replies), authorizer, identity)


def _now() -> tuple[str, int]:
    now = datetime.now(UTC)
    return now.strftime("%d/%b/%Y:%H:%M:%S +0000"), int(now.timestamp() * 1000)


class _Connection:
    def __init__(self, connection_id: str, socket: Any, source_ip: str, user_agent: str, authorizer: dict):
        self.id = connection_id
        self.socket = socket
        self.source_ip = source_ip
        self.user_agent = user_agent
        self.authorizer = authorizer
        self.connected_at = int(time.time() * 1000)
        self.last_active_at = self.connected_at
        self.open = True


class WebSocketApi:
    """The emulated WebSocket API and its management endpoint. `start()` binds both ports."""

    def __init__(
        self,
        stack: Stack,
        invoke: Callable[[str, dict[str, Any]], Any],
        host: str = "127.0.0.1",
        port: int = 0,
        management_port: int = 0,
    ):
        self.routes = WebSocketRoutes.from_stack(stack)
        self.invoke = invoke
        self.host = host
        self.port = port
        self.management_port = management_port
        self.connections: dict[str, _Connection] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._management: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/{self.routes.stage}"

    @property
    def management_url(self) -> str:
        return f"http://{self.host}:{self.management_port}/{self.routes.stage}"

    # ---- events, as API Gateway builds them for a WebSocket API ----

    def _context(
        self, route_key: str, event_type: str, connection_id: str, connected_at: int, source_ip: str, user_agent: str
    ) -> dict[str, Any]:
        request_time, epoch = _now()
        return {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": secrets.token_urlsafe(12),
            "requestTime": request_time,
            "messageDirection": "IN",
            "stage": self.routes.stage,
            "connectedAt": connected_at,
            "requestTimeEpoch": epoch,
            "identity": {"sourceIp": source_ip, "userAgent": user_agent},
            "requestId": secrets.token_urlsafe(12),
            "domainName": f"{self.host}:{self.port}",
            "connectionId": connection_id,
            "apiId": "local",
        }

    def connect_event(
        self, connection_id: str, path: str, headers: list[tuple[str, str]], source_ip: str, connected_at: int
    ) -> dict[str, Any]:
        query = parse_qsl(urlsplit(path).query, keep_blank_values=True)
        single_headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for name, value in headers:
            single_headers[name] = value
            multi_headers.setdefault(name, []).append(value)
        multi_query: dict[str, list[str]] = {}
        for name, value in query:
            multi_query.setdefault(name, []).append(value)
        user_agent = next((v for k, v in headers if k.lower() == "user-agent"), "")
        event: dict[str, Any] = {
            "headers": single_headers,
            "multiValueHeaders": multi_headers,
            "requestContext": self._context("$connect", "CONNECT", connection_id, connected_at, source_ip, user_agent),
            "isBase64Encoded": False,
        }
        if query:
            event["queryStringParameters"] = {k: v[-1] for k, v in multi_query.items()}
            event["multiValueQueryStringParameters"] = multi_query
        return event

    def message_event(self, connection: _Connection, route_key: str, body: str) -> dict[str, Any]:
        context = self._context(
            route_key, "MESSAGE", connection.id, connection.connected_at, connection.source_ip, connection.user_agent
        )
        context["messageId"] = secrets.token_urlsafe(12)
        context["authorizer"] = connection.authorizer
        return {"requestContext": context, "body": body, "isBase64Encoded": False}

    def disconnect_event(self, connection: _Connection, status: int, reason: str) -> dict[str, Any]:
        context = self._context(
            "$disconnect",
            "DISCONNECT",
            connection.id,
            connection.connected_at,
            connection.source_ip,
            connection.user_agent,
        )
        context.update(disconnectStatusCode=status, disconnectReason=reason, authorizer=connection.authorizer)
        return {"headers": {}, "requestContext": context, "isBase64Encoded": False}

    def route_for(self, body: str) -> str:
        """The route a message selects: `$request.body.<field>` when it names a route, else `$default`."""
        field = self.routes.selection_expression.removeprefix("$request.body.")
        try:
            selected = json.loads(body).get(field)
        except (ValueError, AttributeError):
            selected = None
        return selected if isinstance(selected, str) and selected in self.routes.functions else "$default"

    def authorize(self, event: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        """(status, authorizer context): 401 when an identity source is missing, 403 on Deny, as AWS does."""
        if self.routes.authorizer is None:
            return 200, {}
        for source in self.routes.identity_sources:
            kind, _, name = source.removeprefix("route.request.").partition(".")
            values = event.get("headers") if kind == "header" else event.get("queryStringParameters")
            if not any(k.lower() == name.lower() and v for k, v in (values or {}).items()):
                return 401, None
        method_arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:local/{self.routes.stage}/$connect"
        result = self.invoke(self.routes.authorizer, {**event, "type": "REQUEST", "methodArn": method_arn})
        statements = ((result or {}).get("policyDocument") or {}).get("Statement") or []
        allowed = any(
            s.get("Effect") == "Allow"
            and any(
                fnmatch.fnmatchcase(method_arn, r)
                for r in (s["Resource"] if isinstance(s.get("Resource"), list) else [s.get("Resource", "")])
            )
            for s in statements
        )
        denied = any(s.get("Effect") == "Deny" for s in statements)
        if not allowed or denied:
            return 403, None
        return 200, {"principalId": result.get("principalId"), **(result.get("context") or {})}

    # ---- the WebSocket server ----

    async def _process_request(self, socket: Any, request: Any) -> Any:
        if urlsplit(request.path).path.rstrip("/") != f"/{self.routes.stage}":
            return socket.respond(404, "Not Found\n")
        connection_id = new_connection_id()
        source_ip = socket.remote_address[0] if socket.remote_address else "127.0.0.1"
        event = self.connect_event(
            connection_id, request.path, list(request.headers.raw_items()), source_ip, int(time.time() * 1000)
        )
        try:
            status, authorizer = await asyncio.to_thread(self.authorize, event)
        except Exception:
            log.exception("WebSocket authorizer failed")
            return socket.respond(500, "Internal Server Error\n")
        if authorizer is None:
            return socket.respond(status, "Unauthorized\n" if status == 401 else "Forbidden\n")
        event["requestContext"]["authorizer"] = authorizer
        try:
            result = await asyncio.to_thread(self.invoke, self.routes.functions["$connect"], event)
        except Exception:
            log.exception("WebSocket $connect handler failed")
            return socket.respond(502, "Bad Gateway\n")
        status = int((result or {}).get("statusCode", 200)) if isinstance(result, dict) else 200
        if not 200 <= status < 300:
            return socket.respond(status, "Refused\n")
        user_agent = request.headers.get("User-Agent", "")
        socket.parley_connection = _Connection(connection_id, socket, source_ip, user_agent, authorizer)
        return None

    async def _serve(self, socket: Any) -> None:
        connection: _Connection = socket.parley_connection
        with self._lock:
            self.connections[connection.id] = connection
        status, reason = 1000, ""
        try:
            async for message in socket:
                connection.last_active_at = int(time.time() * 1000)
                body = message if isinstance(message, str) else message.decode("utf-8", "replace")
                route = self.route_for(body)
                try:
                    result = await asyncio.to_thread(
                        self.invoke, self.routes.functions[route], self.message_event(connection, route, body)
                    )
                except Exception:
                    log.exception("WebSocket %s handler failed", route)
                    await socket.send(json.dumps({"message": "Internal server error", "connectionId": connection.id}))
                    continue
                if route in self.routes.replies and isinstance(result, dict) and result.get("body"):
                    await socket.send(result["body"])
        except Exception:
            status, reason = 1006, "Going away"
        finally:
            connection.open = False
            with self._lock:
                self.connections.pop(connection.id, None)
            if socket.close_code is not None:
                status, reason = socket.close_code, socket.close_reason or reason
            try:
                await asyncio.to_thread(
                    self.invoke, self.routes.functions["$disconnect"], self.disconnect_event(connection, status, reason)
                )
            except Exception:
                log.exception("WebSocket $disconnect handler failed")

    def start(self) -> WebSocketApi:
        from websockets.asyncio.server import serve

        ready = threading.Event()
        failure: list[BaseException] = []

        async def run() -> None:
            try:
                self._server = await serve(
                    self._serve,
                    self.host,
                    self.port,
                    process_request=self._process_request,
                    max_size=MAX_MESSAGE_BYTES,
                    server_header="parley-local",
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            await self._server.wait_closed()

        def loop_thread() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(run())

        self._thread = threading.Thread(target=loop_thread, name="websocket-api", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        self._management = _management_server(self, self.host, self.management_port)
        self.management_port = self._management.server_address[1]
        threading.Thread(
            target=self._management.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="websocket-management",
            daemon=True,
        ).start()
        return self

    def stop(self) -> None:
        if self._management:
            self._management.shutdown()
            self._management.server_close()
        if self._loop and self._server:
            self._loop.call_soon_threadsafe(self._server.close)
        if self._thread:
            self._thread.join(timeout=5)

    # ---- the @connections management API ----

    def post(self, connection_id: str, data: bytes) -> int:
        with self._lock:
            connection = self.connections.get(connection_id)
        if connection is None or not connection.open or self._loop is None:
            return 410
        if len(data) > MAX_MESSAGE_BYTES:
            return 413
        text = data.decode("utf-8", "replace")
        try:
            asyncio.run_coroutine_threadsafe(connection.socket.send(text), self._loop).result(timeout=5)
        except Exception:
            return 410  # closed while sending
        return 200

    def close(self, connection_id: str) -> int:
        with self._lock:
            connection = self.connections.get(connection_id)
        if connection is None or self._loop is None:
            return 410
        asyncio.run_coroutine_threadsafe(connection.socket.close(1000, "closed by the server"), self._loop)
        return 204


def new_connection_id() -> str:
    """A connection id shaped like API Gateway's (12 URL-safe characters ending in '=')."""
    return uuid.uuid4().bytes[:8].hex()[:11].upper() + "="


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ManagementRequestHandler(BaseHTTPRequestHandler):
    """A request to the @connections management API (post to, describe or close a connection) of `api`."""

    protocol_version = "HTTP/1.1"
    api: WebSocketApi
    connection_path: re.Pattern[str]  # matches /@connections/{id}, with or without the stage

    def _reply(self, status: int, body: dict[str, Any] | None = None, error: str | None = None) -> None:
        raw = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        if error:
            self.send_header("x-amzn-ErrorType", error)
        if raw:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _target(self) -> str | None:
        found = self.connection_path.match(self.path)
        return unquote(found.group(1)) if found else None

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        connection_id = self._target()
        if connection_id is None:
            return self._reply(404, {"message": "Not Found"})
        status = self.api.post(connection_id, data)
        if status == 410:
            return self._reply(410, {"message": None}, "GoneException")
        if status == 413:
            return self._reply(413, {"message": "Message too long"}, "PayloadTooLargeException")
        self._reply(200)

    def do_GET(self) -> None:
        connection_id = self._target()
        with self.api._lock:
            connection = self.api.connections.get(connection_id or "")
        if connection is None:
            return self._reply(410, {"message": None}, "GoneException")
        self._reply(
            200,
            {
                "connectedAt": _iso(connection.connected_at),
                "lastActiveAt": _iso(connection.last_active_at),
                "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
            },
        )

    def do_DELETE(self) -> None:
        status = self.api.close(self._target() or "")
        if status == 410:
            return self._reply(410, {"message": None}, "GoneException")
        self._reply(204)

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), fmt % args)


def _management_server(api: WebSocketApi, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(ManagementRequestHandler):
        pass

    Handler.api = api
    Handler.connection_path = re.compile(rf"^(?:/{re.escape(api.routes.stage)})?/@connections/([^/?]+)$")
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def attach(local: Any, host: str, port: int) -> WebSocketApi:
    """Serve the stack's WebSocket API beside its HTTP API and point the worker's @connections client at it.
    `port` 0 picks a free one. Stopped with the stack."""
    import os

    from parley import config

    api = WebSocketApi(local.stack, lambda name, event: local.gateway.pools[name].invoke(event), host, port).start()
    local._servers.append(api)
    os.environ["WEBSOCKET_ENDPOINT"] = api.management_url
    config.reset()  # the worker's @connections client follows the endpoint (aws.client keys on it)
    return api
