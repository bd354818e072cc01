"""What every API function shares: the resolver, error mapping, authentication and body limits.

Each `functions/<name>/app.py` calls `create_app()`, declares its one route and returns
`app.resolve(event, context)`. Identity comes only from the authorizer's output in the request context.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from parley.auth import Principal
from parley.config import settings
from parley.dal.idempotency import IdempotencyKey
from parley.errors import BadRequest, DomainError, NotFound, PayloadTooLarge, ServiceUnavailable, Unauthenticated
from parley.ids import MAX_SAFE_INTEGER
from parley.log import logger
from parley.wire import serialize


# JSON limits checked before a body is parsed or validated. No request of the API nests deeper than 8 levels;
# Python's parser would hit its recursion limit (a RecursionError, once a 500) somewhere near 1,000.
MAX_JSON_DEPTH = 64
MAX_NUMBER_DIGITS = 4_000  # Python refuses to convert integers of more than 4,300 digits (a ValueError)
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")

_IDEMPOTENCY_KEY_RE = re.compile(r"[\x21-\x7e]{1,255}")
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_INT_RE = re.compile(r"^[1-9][0-9]{0,15}$")


def error_response(status: int, detail: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"detail": detail},
        headers=headers,
    )


def principal(app: APIGatewayHttpResolver) -> Principal:
    """The authenticated caller (the authenticate middleware has already rejected anonymous requests)."""
    return app.context["principal"]


def idempotency_key(app: APIGatewayHttpResolver) -> IdempotencyKey | None:
    """The request's `Idempotency-Key` header, scoped to the caller and tied to this method, path and body."""
    raw = app.current_event.headers.get("idempotency-key")
    if raw is None:
        return None
    if not _IDEMPOTENCY_KEY_RE.fullmatch(raw):
        raise BadRequest("The Idempotency-Key header must be 1 to 255 visible ASCII characters.")
    event = app.current_event
    return IdempotencyKey.of_request(principal(app).account_id, raw, event.http_method, event.path,
                                     event.body or "")


def path_id(raw: str, what: str) -> int:
    """A path id, validated before any database call: anything but a positive safe integer is unknown."""
    if not _INT_RE.match(raw or "") or int(raw) > MAX_SAFE_INTEGER:
        raise NotFound(f"{what} not found")
    return int(raw)


def path_uuid(raw: str, what: str) -> str:
    if not _UUID_RE.match((raw or "").lower()):
        raise NotFound(f"{what} not found")
    return raw.lower()


def query_int(app: APIGatewayHttpResolver, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = app.current_event.get_query_string_value(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"-?[0-9]{1,17}", raw) or not low <= int(raw) <= high:
        raise _QueryError(name, f"must be an integer from {low} to {high}")
    return int(raw)


class UnsupportedMediaType(DomainError):
    status_code = 415


class _QueryError(DomainError):
    status_code = 400

    def __init__(self, name: str, message: str):
        super().__init__(f"query parameter {name} {message}")
        self.field_detail = [{"loc": ["query", name], "msg": message, "type": "value_error"}]


def _check_depth(text: str) -> None:
    """Refuse deep (or unclosed) nesting before a parser recurses into it; brackets inside strings do not count.
    Bodies without many brackets, every question among them, skip the scan."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return
    depth = 0
    for bracket in _JSON_BRACKET.finditer(_JSON_STRING.sub("", text)):
        depth += 1 if bracket.group() in "[{" else -1
        if depth > MAX_JSON_DEPTH:
            raise BadRequest(f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        # Parsers disagree on which copy wins (first, last, error), so a proxy or log may read another value.
        raise BadRequest(f"Duplicate key {json.dumps(duplicate, ensure_ascii=False)} in a JSON object.")
    return found


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise BadRequest(f"A number in the JSON body has more than {MAX_NUMBER_DIGITS} digits.")
    return int(digits)


def parse_body(text: str | bytes) -> Any:
    """The request body's JSON: duplicate keys and overlong integers are a 400 (malformed JSON stays a
    JSONDecodeError, which the validation middleware turns into a 400 of its own)."""
    return json.loads(text, object_pairs_hook=_object_without_duplicates, parse_int=_bounded_int)


def _admit(event: dict[str, Any]) -> Principal:
    """Checks made before anything else (request validation included): identity, body size and encoding."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    caller = Principal.from_context(authorizer.get("lambda"))
    if caller is None:
        raise Unauthenticated("Invalid token.")
    body = event.get("body") or ""
    # Base64 bodies are 4/3 of the payload; compare against the decoded size limit accordingly.
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode("utf-8"))
    if size > settings().max_body_bytes:
        raise PayloadTooLarge(f"request body is larger than {settings().max_body_bytes} bytes")
    if body and event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise BadRequest("The request body is not valid UTF-8 JSON.") from None
    content_type = str((event.get("headers") or {}).get("content-type") or "").strip().lower()
    if body and content_type and not content_type.startswith("application/json"):
        raise UnsupportedMediaType("Send the body as JSON with Content-Type: application/json.")
    _check_depth(body)
    return caller


class ParleyResolver(APIGatewayHttpResolver):
    """The Powertools HTTP API resolver, admitting a request (401/413/415/400) before it validates the body."""

    def __init__(self) -> None:
        super().__init__(enable_validation=True, serializer=serialize, json_body_deserializer=parse_body)

    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            caller = _admit(event)
        except DomainError as exc:
            return _result(exc.status_code, {"detail": exc.detail})
        except Exception:  # the catch-all also covers what runs before the route
            return _result(500, internal_error_body(context))
        self.append_context(principal=caller)
        logger.append_keys(account_id=caller.account_id)
        try:
            return super().resolve(event, context)
        except Exception:
            return _result(500, internal_error_body(context))


def _result(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": serialize(body),
        "isBase64Encoded": False,
    }


def internal_error_body(context: Any) -> dict[str, Any]:
    """Log the exception being handled, count it, and answer without internals: the request id finds the log."""
    request_id = getattr(context, "aws_request_id", None)
    function = getattr(context, "function_name", "unknown")
    logger.exception("unhandled error", extra={"request_id": request_id})
    try:
        from aws_lambda_powertools.metrics import MetricUnit, single_metric  # only on this path: no cold start cost

        with single_metric(name="UnhandledErrors", unit=MetricUnit.Count, value=1) as metric:
            metric.add_dimension("function", function)
    except Exception:  # counting must never change the answer
        logger.warning("could not emit the UnhandledErrors metric", exc_info=True)
    return {"detail": "internal error", "request_id": request_id}


def _domain_error(exc: DomainError) -> Response:
    headers = None
    if isinstance(exc, ServiceUnavailable):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
        logger.warning("service unavailable", extra={"detail": exc.detail, "cause": repr(exc.__cause__)})
    return error_response(exc.status_code, getattr(exc, "field_detail", None) or exc.detail, headers)


def _validation_error(exc: RequestValidationError) -> Response:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "Malformed JSON body.")
    if any(e.get("type") == "unsupported_content_type" for e in errors):
        return error_response(415, "Send the body as JSON with Content-Type: application/json.")
    detail = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "value_error")}
        for e in errors
    ]
    # A body that is valid JSON but not an object is a malformed request rather than a field error.
    if any(e.get("loc") == ("body",) and e.get("type") in ("model_attributes_type", "dict_type") for e in errors):
        return error_response(400, "The JSON body must be an object.")
    if any(e.get("loc") == ("body",) and e.get("type") == "missing" for e in errors):
        return error_response(400, "A JSON object body is required.")
    return error_response(422, detail)


def _not_found(_: NotFoundError) -> Response:
    return error_response(404, "Not found.")


def create_app() -> ParleyResolver:
    app = ParleyResolver()
    app.exception_handler(Exception)(
        lambda _: Response(500, content_types.APPLICATION_JSON, internal_error_body(app.lambda_context)))
    app.exception_handler(DomainError)(_domain_error)
    app.exception_handler(RequestValidationError)(_validation_error)
    app.not_found(_not_found)
    return app
