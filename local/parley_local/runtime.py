"""Runs template.yaml's functions the way AWS invokes them.

`Gateway` is the HTTP API: it matches a request to a route, runs the Lambda authorizer (with its result
cache), builds the API Gateway v2 event and returns the handler's status, headers and body. `QueuePump`
is the SQS event source mapping: it receives batches, invokes the consumer with an SQS event and deletes
the records the function did not report as failed. Both invoke through a `FunctionPool` per function: its
execution environments are processes (`ProcessPool`, parley_local.environment) or, with --in-process,
imports of the handler module in this process (`InProcessPool`).
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from parley_local import environment as environments
from parley_local.environment import RESULT, Environment, EnvironmentFailed, error_text, marshal
from parley_local.resources import ACCOUNT, REGION
from parley_local.template import Function, Route, Stack

log = logging.getLogger("parley.local")
# Shown by default (make dev sets it to INFO): each cold start is visible, as in a function's Lambda logs.
# (No "parley" in the name: Powertools' Logger(service="parley") filters such names out of the root handlers.)
cold_starts = logging.getLogger("local-lambda")
# Lambda's payload limits for a synchronous invocation (the event) and for its result, in bytes (the figures
# of its RequestEntityTooLarge and "Response payload size exceeded" errors).
MAX_REQUEST_BYTES = 6 * 1024 * 1024
MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100
# API Gateway HTTP API's limit on a request body.
MAX_HTTP_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_CONCURRENCY = 2
DEFAULT_IDLE_SECONDS = 60.0
_module_counter = itertools.count()
_TEXT_TYPES = (
    "application/json",
    "text/",
    "application/xml",
    "application/x-www-form-urlencoded",
    "application/javascript",
    "application/problem+json",
)


class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    def __init__(self, function_name: str, memory_mb: int, timeout_s: float, request_id: str | None = None):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class InvocationFailed(Exception):
    """The invocation failed as Lambda reports it: a function error, a crashed or timed-out environment, or
    an event or result over Lambda's payload limits. API Gateway answers 502; SQS redelivers the batch.
    (With --in-process a function error is the handler's own exception instead.)"""


class FunctionPool:
    """The execution environments of one function. Like Lambda, an environment serves one invocation at a time
    and keeps its module state between invocations; a new one starts (a cold start) when all are busy, up to
    `concurrency`; beyond that an invocation waits for a free one (Lambda would throttle). Events and results
    cross the boundary as JSON, where Lambda's payload limits are enforced."""

    def __init__(self, function: Function, concurrency: int = DEFAULT_CONCURRENCY):
        self.function = function
        self.concurrency = concurrency
        # (environment, when it was last used), most recently used last: reused first, the others idle out
        self._idle: list[tuple[Any, float]] = []
        self._count = 0
        self._started = itertools.count(1)
        self._changed = threading.Condition()

    def invoke(self, event: dict[str, Any]) -> Any:
        name = self.function.logical_id
        event_json = marshal(event)
        if len(event_json) > MAX_REQUEST_BYTES:
            raise InvocationFailed(
                f"{name}: the event is {len(event_json)} bytes, over Lambda's limit of "
                f"{MAX_REQUEST_BYTES} bytes for a synchronous invocation"
            )
        environment = self._acquire()
        try:
            reply = self._run(environment, str(uuid.uuid4()), event_json)
        except InvocationFailed:  # the environment crashed or timed out: it is gone
            self._release(environment, healthy=False)
            raise
        except BaseException:  # (--in-process) a function error: the environment lives on, as on Lambda
            self._release(environment, healthy=True)
            raise
        self._release(environment, healthy=True)
        kind, payload = reply[:1], reply[1:]
        if kind != RESULT:
            raise InvocationFailed(f"{name}: function error {error_text(payload)}")
        if len(payload) > MAX_RESPONSE_BYTES:
            raise InvocationFailed(
                f"{name}: the result is {len(payload)} bytes as Lambda marshals it, over "
                f"Lambda's response limit of {MAX_RESPONSE_BYTES} bytes"
            )
        return json.loads(payload)

    def _acquire(self) -> Any:
        with self._changed:
            while not self._idle and self._count >= self.concurrency:
                self._changed.wait()
            if self._idle:
                return self._idle.pop()[0]
            self._count += 1
            number = next(self._started)
        try:
            environment, init_s = self._start(number)
        except BaseException as exc:
            with self._changed:
                self._count -= 1
                self._changed.notify()
            if isinstance(exc, EnvironmentFailed):
                raise InvocationFailed(f"{self.function.logical_id} env {number}: {exc}") from None
            raise
        cold_starts.info("cold start %s env %d (init %.0f ms)", self.function.logical_id, number, init_s * 1000)
        return environment

    def _release(self, environment: Any, healthy: bool) -> None:
        with self._changed:
            if healthy:
                self._idle.append((environment, time.monotonic()))
            else:
                self._count -= 1
            self._changed.notify()

    def reap(self, idle_seconds: float) -> int:
        """Stop the environments idle for longer than `idle_seconds`; returns how many."""
        cutoff = time.monotonic() - idle_seconds
        with self._changed:
            expired = [env for env, last_used in self._idle if last_used < cutoff]
            self._idle = [(env, last_used) for env, last_used in self._idle if last_used >= cutoff]
            self._count -= len(expired)
            self._changed.notify_all()
        for environment in expired:
            self._stop(environment)
        return len(expired)

    def close(self) -> None:
        self.reap(-1e9)

    # What an environment is: a process (ProcessPool) or a module import in this process (InProcessPool).
    def _start(self, number: int) -> tuple[Any, float]:
        raise NotImplementedError

    def _run(self, environment: Any, request_id: str, event_json: bytes) -> bytes:
        raise NotImplementedError

    def _stop(self, environment: Any) -> None:
        pass


class ProcessPool(FunctionPool):
    """Each environment is a process of its own (parley_local.environment), as on Lambda."""

    def _start(self, number: int) -> tuple[Environment, float]:
        environment = Environment(self.function, number)
        return environment, environment.start()

    def _run(self, environment: Environment, request_id: str, event_json: bytes) -> bytes:
        try:
            return environment.invoke(request_id, event_json)
        except EnvironmentFailed as exc:
            raise InvocationFailed(f"{self.function.logical_id} env {environment.number}: {exc}") from None

    def _stop(self, environment: Environment) -> None:
        environment.stop()


class InProcessPool(FunctionPool):
    """Each environment is a fresh import of the handler module in this process (--in-process: one process to
    attach a debugger to). The event and the result still go through JSON and the payload limits."""

    def _start(self, number: int) -> tuple[Callable, float]:
        started = time.monotonic()
        module_name, attr = self.function.handler.rsplit(".", 1)
        path = self.function.code_dir / f"{module_name}.py"
        unique = f"parley_fn_{self.function.logical_id}_{next(_module_counter)}"
        spec = importlib.util.spec_from_file_location(unique, path)
        module: ModuleType = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise EnvironmentFailed(f"init failed: {type(exc).__name__}: {exc}") from exc
        return getattr(module, attr), time.monotonic() - started

    def _run(self, handler: Callable, request_id: str, event_json: bytes) -> bytes:
        """The handler's own exception propagates (to a debugger, and to callers that catch its type)."""
        fn = self.function
        context = LambdaContext(fn.logical_id, fn.memory_mb, fn.timeout_s, request_id)
        return RESULT + marshal(environments.run_handler(fn.logical_id, handler, json.loads(event_json), context))


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
    """API Gateway (HTTP API) in front of one pool of environments per function of the template.

    `in_process` (the default, for tests whose emulated AWS lives in their own process; `make dev` runs
    processes) runs every environment as a module import in this process; then only one HTTP invocation
    runs at a time, since Powertools keeps the request being resolved in a class attribute shared by every
    resolver of a process (on Lambda each environment is a process of its own). Environments idle for
    `idle_seconds` are stopped (processes only)."""

    def __init__(
        self,
        stack: Stack,
        in_process: bool = True,
        default_concurrency: int = DEFAULT_CONCURRENCY,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
    ):
        self.stack = stack
        self.in_process = in_process
        self.routes: list[Route] = stack.routes()
        pool_class = InProcessPool if in_process else ProcessPool
        self.pools: dict[str, FunctionPool] = {
            name: pool_class(fn, fn.reserved_concurrency or default_concurrency)
            for name, fn in stack.functions().items()
        }
        self._one_at_a_time = threading.Lock() if in_process else contextlib.nullcontext()
        self.authorizer_name, settings = stack.authorizer()
        identity = settings.get("Identity", {})
        self.identity_headers = [h.lower() for h in identity.get("Headers", [])]
        ttl = identity.get("ReauthorizeEvery", 300)
        self.cache_ttl = int(stack.resolve(ttl, {}) if isinstance(ttl, dict) else ttl)
        self._auth_cache: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = {}
        self._cache_lock = threading.Lock()
        self._closed = threading.Event()
        if idle_seconds > 0 and not in_process:
            threading.Thread(target=self._reap, args=(idle_seconds,), name="environment-reaper", daemon=True).start()

    def _reap(self, idle_seconds: float) -> None:
        """Stop environments idle for `idle_seconds`, as Lambda does, so a stack at rest holds none."""
        while not self._closed.wait(min(idle_seconds / 4, 5.0)):
            for pool in self.pools.values():
                pool.reap(idle_seconds)

    def close(self) -> None:
        self._closed.set()
        for pool in self.pools.values():
            pool.close()

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        """A synchronous invocation through API Gateway (InvocationFailed when Lambda reports a failure)."""
        with self._one_at_a_time:
            return self.pools[function].invoke(event)

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
        result = self.invoke(self.authorizer_name, request)
        if not isinstance(result, dict) or not result.get("isAuthorized"):
            result = None
        if self.cache_ttl:
            with self._cache_lock:
                self._auth_cache[identity] = (now + self.cache_ttl, result)
        return result

    def build_event(
        self,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        route: Route,
        params: dict[str, str],
        source_ip: str = "127.0.0.1",
    ) -> dict:
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
        now = datetime.now(UTC)
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
        if len(body) > MAX_HTTP_BODY_BYTES:
            return _json_response(413, {"message": "Request Entity Too Large"})
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
            result = self.invoke(route.function, event)
        except Exception as failure:  # InvocationFailed, or (--in-process) the handler's own exception
            log.error(
                "%s %s answered 502: %s",
                event["requestContext"]["http"]["method"],
                event["rawPath"],
                failure,
                exc_info=not isinstance(failure, InvocationFailed),
            )
            return _json_response(502, {"message": "Internal Server Error"})
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
    """The SQS event source mapping of the consumer function, polling with `threads` pollers.

    As on AWS: a batch whose invocation fails (a function error, a crashed or timed-out environment) is not
    deleted, so SQS delivers it again after its visibility timeout; with ReportBatchItemFailures only the
    records the function did not report are deleted. The FIFO rules (a message group is blocked while a
    message of it is in flight, exact receive counts, the redrive to the dead-letter queue after the
    RedrivePolicy's maxReceiveCount) are moto's, as SQS's (tests/unit/test_queue_pump.py holds them to it)."""

    def __init__(
        self,
        stack: Stack,
        gateway: Gateway,
        sqs: Any,
        physical: dict[str, dict[str, str]],
        threads: int = 2,
        wait_seconds: int = 1,
    ):
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
        self._threads = [
            threading.Thread(target=self._run, name=f"queue-pump-{i}", daemon=True) for i in range(threads)
        ]

    def start(self) -> QueuePump:
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
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": m.get("MD5OfBody", ""),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": REGION,
                }
                for m in messages
            ]
        }

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
        except Exception as failure:  # InvocationFailed, or (--in-process) the handler's own exception
            log.error(
                "%s failed (%s); the batch of %d stays in the queue and is delivered again after its "
                "visibility timeout",
                self.consumer,
                failure,
                len(received),
                exc_info=not isinstance(failure, InvocationFailed),
            )
            return len(received)
        done = self.succeeded(received, result)
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        return len(received)

    def succeeded(self, received: list[dict[str, Any]], result: Any) -> list[dict[str, Any]]:
        """The records of a completed invocation that the event source mapping deletes.

        Without ReportBatchItemFailures, all. With it, all but the reported ones; a report naming no record of
        the batch (empty, missing or unknown itemIdentifier) fails the whole batch, as Lambda does. In a FIFO
        queue the records after a reported one in its group stay too (SQS would deliver them out of order
        otherwise; AWS leaves that to the function, the emulation enforces it and says so)."""
        if not self.reports_failures or not isinstance(result, dict) or not result.get("batchItemFailures"):
            return received
        ids = {m["MessageId"] for m in received}
        failed = set()
        for failure in result["batchItemFailures"]:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if identifier not in ids:
                log.error("%s reported an invalid batch item failure %r: the whole batch fails", self.consumer, failure)
                return []
            failed.add(identifier)
        blocked_groups: set[str] = set()
        done = []
        for message in received:
            group = (message.get("Attributes") or {}).get("MessageGroupId")
            if message["MessageId"] in failed or group in blocked_groups:
                if message["MessageId"] not in failed:
                    log.warning(
                        "%s reported a failure in group %s but not the later message %s: kept in the "
                        "queue so the group keeps its order",
                        self.consumer,
                        group,
                        message["MessageId"],
                    )
                if group is not None:
                    blocked_groups.add(group)
                continue
            done.append(message)
        return done
