"""Runs template.yaml's functions in-process the way AWS invokes them.

`Gateway` is the HTTP API: it matches a request to a route, runs the Lambda authorizer (with its result
cache), builds the API Gateway v2 event and returns the handler's status, headers and body. `QueuePump`
is the SQS event source mapping: it receives batches, invokes the consumer with an SQS event and deletes
the records the function did not report as failed.
"""

from __future__ import annotations

import base64
import importlib.util
import itertools
import json
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from types import ModuleType
from typing import Any, Callable

from parley_local.resources import ACCOUNT, REGION
from parley_local.template import Function, Route, Stack

log = logging.getLogger("parley.local")
_module_counter = itertools.count()
_TEXT_TYPES = ("application/json", "text/", "application/xml", "application/x-www-form-urlencoded",
               "application/javascript", "application/problem+json")


class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    def __init__(self, function: Function):
        self.function_name = function.logical_id
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = function.memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function.logical_id}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.logical_id}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + function.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionPool:
    """Warm instances of one function. Like Lambda, an instance serves one invocation at a time, and a new
    instance (a fresh import of the handler module, i.e. a cold start) is made when all are busy."""

    def __init__(self, function: Function, max_instances: int = 4):
        self.function = function
        self.max_instances = max_instances
        self._idle: queue.LifoQueue[Callable] = queue.LifoQueue()
        self._count = 0
        self._lock = threading.Lock()

    def _load(self) -> Callable:
        module_name, attr = self.function.handler.rsplit(".", 1)
        path = self.function.code_dir / f"{module_name}.py"
        unique = f"parley_fn_{self.function.logical_id}_{next(_module_counter)}"
        spec = importlib.util.spec_from_file_location(unique, path)
        module: ModuleType = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return getattr(module, attr)

    def invoke(self, event: dict[str, Any]) -> Any:
        try:
            handler = self._idle.get_nowait()
        except queue.Empty:
            with self._lock:
                grow = self._count < self.max_instances
                if grow:
                    self._count += 1
            handler = self._load() if grow else self._idle.get()
        try:
            return handler(event, LambdaContext(self.function))
        finally:
            self._idle.put(handler)


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _json_response(status: int, body: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, {"content-type": "application/json"}, json.dumps(body).encode())


class Gateway:
    def __init__(self, stack: Stack, max_instances: int = 4):
        self.stack = stack
        self.routes: list[Route] = stack.routes()
        functions = stack.functions()
        self.pools = {name: FunctionPool(fn, max_instances) for name, fn in functions.items()}
        self.authorizer_name, settings = stack.authorizer()
        identity = settings.get("Identity", {})
        self.identity_headers = [h.lower() for h in identity.get("Headers", [])]
        ttl = identity.get("ReauthorizeEvery", 300)
        self.cache_ttl = int(stack.resolve(ttl, {}) if isinstance(ttl, dict) else ttl)
        self._auth_cache: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = {}
        self._cache_lock = threading.Lock()

    def clear_authorizer_cache(self) -> None:
        with self._cache_lock:
            self._auth_cache.clear()

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method == method:
                params = route.match(path)
                if params is not None:
                    return route, params
        return None

    def _authorize(self, event: dict[str, Any]) -> dict[str, Any] | None:
        identity = tuple(event["headers"].get(h, "") for h in self.identity_headers)
        now = time.monotonic()
        if self.cache_ttl:
            with self._cache_lock:
                cached = self._auth_cache.get(identity)
            if cached and cached[0] > now:
                return cached[1]
        request = {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:local/$default/{event['routeKey'].replace(' ', '')}",
            "identitySource": list(identity),
            "routeKey": event["routeKey"],
            "rawPath": event["rawPath"],
            "rawQueryString": event["rawQueryString"],
            "headers": event["headers"],
            "requestContext": {k: v for k, v in event["requestContext"].items() if k != "authorizer"},
        }
        for key in ("queryStringParameters", "pathParameters", "cookies"):
            if key in event:
                request[key] = event[key]
        result = self.pools[self.authorizer_name].invoke(request)
        if not isinstance(result, dict) or not result.get("isAuthorized"):
            result = None
        if self.cache_ttl:
            with self._cache_lock:
                self._auth_cache[identity] = (now + self.cache_ttl, result)
        return result

    def build_event(self, method: str, raw_path: str, raw_query: str, headers: list[tuple[str, str]],
                    body: bytes, route: Route, params: dict[str, str], source_ip: str = "127.0.0.1") -> dict:
        from urllib.parse import parse_qsl, unquote

        merged: dict[str, str] = {}
        cookies: list[str] = []
        for name, value in headers:
            key = name.lower()
            if key == "cookie":
                cookies.extend(part.strip() for part in value.split(";") if part.strip())
                continue
            merged[key] = f"{merged[key]},{value}" if key in merged else value
        query: dict[str, str] = {}
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            query[key] = f"{query[key]},{value}" if key in query else value
        content_type = merged.get("content-type", "")
        is_text = not content_type or any(content_type.startswith(t) for t in _TEXT_TYPES)
        try:
            text = body.decode("utf-8") if is_text else None
        except UnicodeDecodeError:
            text = None
        now = datetime.now(timezone.utc)
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.route_key,
            "rawPath": raw_path,
            "rawQueryString": raw_query,
            "headers": merged,
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": "local",
                "domainName": merged.get("host", "127.0.0.1"),
                "domainPrefix": "local",
                "http": {
                    "method": method,
                    "path": raw_path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": source_ip,
                    "userAgent": merged.get("user-agent", ""),
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": route.route_key,
                "stage": "$default",
                "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "timeEpoch": int(now.timestamp() * 1000),
            },
            "isBase64Encoded": bool(body) and text is None,
        }
        if body:
            event["body"] = text if text is not None else base64.b64encode(body).decode("ascii")
        if cookies:
            event["cookies"] = cookies
        if query:
            event["queryStringParameters"] = query
        if params:
            event["pathParameters"] = {k: unquote(v) for k, v in params.items()}
        return event

    def handle(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes = b"") -> HttpResponse:
        raw_path, _, raw_query = target.partition("?")
        matched = self.match(method.upper(), raw_path)
        if matched is None:
            return _json_response(404, {"message": "Not Found"})
        route, params = matched
        event = self.build_event(method.upper(), raw_path, raw_query, headers, body, route, params)
        if route.public:  # `Authorizer: NONE`: no authorizer runs and the context carries no authorizer output
            return self._invoke(route, event)
        if any(not event["headers"].get(h) for h in self.identity_headers):
            return _json_response(401, {"message": "Unauthorized"})  # API Gateway: identity source missing
        try:
            auth = self._authorize(event)
        except Exception:
            log.exception("authorizer failed")
            return _json_response(500, {"message": "Internal Server Error"})
        if auth is None:
            return _json_response(403, {"message": "Forbidden"})
        event["requestContext"]["authorizer"] = {"lambda": auth.get("context") or {}}
        return self._invoke(route, event)

    def _invoke(self, route: Route, event: dict[str, Any]) -> HttpResponse:
        try:
            result = self.pools[route.function].invoke(event)
        except Exception:
            log.exception("function %s failed", route.function)
            return _json_response(500, {"message": "Internal Server Error"})
        return self._to_http(result)

    @staticmethod
    def _to_http(result: Any) -> HttpResponse:
        """API Gateway's reading of a payload-2.0 response (a dict without statusCode is a 200 JSON body)."""
        if not isinstance(result, dict) or "statusCode" not in result:
            return _json_response(200, result)
        headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[name.lower()] = ",".join(str(v) for v in values)
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
        return HttpResponse(int(result["statusCode"]), headers, raw)


class QueuePump:
    """The SQS event source mapping for the consumer function, polling with `threads` pollers."""

    def __init__(self, stack: Stack, gateway: Gateway, sqs: Any, physical: dict[str, dict[str, str]],
                 threads: int = 2, wait_seconds: int = 1):
        self.consumer, props = stack.sqs_consumer()
        self.pool = gateway.pools[self.consumer]
        queue_logical = props["Queue"]["Fn::GetAtt"][0]
        self.queue_url = physical[queue_logical]["Ref"]
        self.queue_arn = physical[queue_logical]["Arn"]
        self.batch_size = int(props.get("BatchSize", 10))
        self.reports_failures = "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or [])
        self.sqs = sqs
        self.wait_seconds = wait_seconds
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, name=f"queue-pump-{i}", daemon=True)
                         for i in range(threads)]

    def start(self) -> "QueuePump":
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.wait_seconds + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.drain_once(self.wait_seconds)
            except Exception:
                if not self._stop.is_set():
                    log.exception("queue pump error")
                    time.sleep(0.5)

    def event_for(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {"Records": [{
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": m.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": REGION,
        } for m in messages]}

    def drain_once(self, wait_seconds: int = 0) -> int:
        """Receive one batch, invoke the consumer, delete what succeeded. Returns the batch size."""
        received = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return 0
        try:
            result = self.pool.invoke(self.event_for(received))
        except Exception:
            log.exception("consumer %s failed; the whole batch will be retried", self.consumer)
            return len(received)
        failed = set()
        if self.reports_failures and isinstance(result, dict):
            failed = {f.get("itemIdentifier") for f in result.get("batchItemFailures") or []}
        done = [m for m in received if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        return len(received)
