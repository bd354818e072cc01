"""What every API function shares: the resolver, error mapping, authentication and body limits.

Each `functions/<name>/app.py` calls `create_app()`, declares its one route and returns
`app.resolve(event, context)`. Identity comes only from the authorizer's output in the request context.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from parley.auth import Principal
from parley.config import settings
from parley.dal.idempotency import IdempotencyKey
from parley.errors import BadRequest, DomainError, PayloadTooLarge, ServiceUnavailable, Unauthenticated
from parley.log import logger
from parley.wire import serialize

# JSON limits checked before a body is parsed or validated. No request of the API nests deeper than 8 levels;
# Python's parser would hit its recursion limit (a RecursionError, once a 500) somewhere near 1,000.
MAX_JSON_DEPTH = 64
MAX_NUMBER_DIGITS = 4_000  # Python refuses to convert integers of more than 4,300 digits (a ValueError)
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")

_IDEMPOTENCY_KEY_RE = re.compile(r"[\x21-\x7e]{1,255}")


# Route metadata for the OpenAPI document (summary, responses with examples, tags). Plain dicts that name the
# response models of parley.responses by name: a handler never imports pydantic models it does not validate
# with, which keeps cold starts short; local/parley_local/openapi.py resolves the names when it merges.
ERRORS = {
    400: "Malformed request: the body is not JSON or not an object, a field contradicts the resource, or a "
    "query parameter is invalid.",
    401: "Missing, malformed, unknown or disabled token. Without an Authorization header at all, API Gateway "
    'answers `{"message": "Unauthorized"}` itself.',
    403: "This account may not do this: not an admin, or no access to the data set.",
    404: "Not found, or not visible to this account.",
    413: "The body is larger than the API accepts.",
    415: "The body is not sent as Content-Type: application/json.",
    422: "A field of the body is invalid: `detail` has one entry per problem.",
    503: "Busy or temporarily unavailable: retry after the seconds in Retry-After.",
}
_ERROR_EXAMPLES: dict[int, Any] = {
    400: "Malformed JSON body.",
    401: "Invalid token.",
    403: "You do not have access to this data set.",
    404: "Not found.",
    413: "request body is larger than 1048576 bytes",
    415: "Send the body as JSON with Content-Type: application/json.",
    422: [
        {
            "loc": ["body", "question_message"],
            "msg": "String should have at least 1 character",
            "type": "string_too_short",
        }
    ],
    503: "the job queue is unavailable, please retry",
}
BODY_ERRORS = (400, 413, 415, 422)
# The data set the routes that return one show as their example (read, settings replaced, listed).
DATA_SET_EXAMPLE: dict[str, Any] = {
    "id": 1,
    "name": "Sample shop",
    "product_count": 120,
    "document_count": 14,
    "created_at": "2026-11-27T15:04:05Z",
    "answer_settings": {"provider": "extractive"},
}
SCHEMA_REF = "#/components/schemas/"
JSON_TYPE = content_types.APPLICATION_JSON


def _error_doc(status: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"$ref": SCHEMA_REF + "ErrorResponse"}
    if status == 401:
        schema = {"anyOf": [schema, {"$ref": SCHEMA_REF + "GatewayError"}]}
    doc: dict[str, Any] = {
        "description": ERRORS[status],
        "content": {
            JSON_TYPE: {"schema": schema, "examples": {"error": {"value": {"detail": _ERROR_EXAMPLES[status]}}}}
        },
    }
    if status == 503:
        doc["headers"] = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
    return doc


def responses(
    status: int,
    description: str,
    model: str | None = None,
    example: Any = None,
    errors: tuple[int, ...] = (),
    media: tuple[str, ...] = (),
    public: bool = False,
) -> dict[int, Any]:
    """A route's documented responses: its success (a parley.responses model by name, or raw media types) and
    its errors; every authenticated route may answer 401."""
    if model is not None:
        content: dict[str, Any] = {JSON_TYPE: {"schema": {"$ref": SCHEMA_REF + model}}}
        if example is not None:
            content[JSON_TYPE]["examples"] = {"example": {"value": example}}
    else:
        content = {m: {"schema": {"type": "object"} if m == JSON_TYPE else {"type": "string"}} for m in media}
    documented: dict[int, Any] = {status: {"description": description, "content": content}}
    for code in sorted(set(errors) | (set() if public else {401})):
        documented[code] = _error_doc(code)
    return documented


def error_response(status: int, detail: Any, headers: dict[str, str] | None = None) -> Response[dict[str, Any]]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"detail": detail},
        headers=headers,
    )


def principal(app: APIGatewayHttpResolver) -> Principal:
    """The authenticated caller (the authenticate middleware has already rejected anonymous requests)."""
    caller: Principal = app.context["principal"]
    return caller


def idempotency_key(app: APIGatewayHttpResolver, raw: str | None) -> IdempotencyKey | None:
    """The request's `Idempotency-Key` header (declared on the route with parley.api_params.IdempotencyKeyHeader),
    scoped to the caller and tied to this method, path and body."""
    if raw is None:
        return None
    if not _IDEMPOTENCY_KEY_RE.fullmatch(raw):
        raise BadRequest("The Idempotency-Key header must be 1 to 255 visible ASCII characters.")
    event = app.current_event
    return IdempotencyKey.of_request(principal(app).account_id, raw, event.http_method, event.path, event.body or "")


class UnsupportedMediaType(DomainError):
    status_code = 415


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
        for key, _ in pairs:
            if key in seen:
                # Parsers disagree on which copy wins (first, last, error), so a proxy or log may read another value.
                raise BadRequest(f"Duplicate key {json.dumps(key, ensure_ascii=False)} in a JSON object.")
            seen.add(key)
    return found


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise BadRequest(f"A number in the JSON body has more than {MAX_NUMBER_DIGITS} digits.")
    return int(digits)


def parse_body(text: str | bytes) -> Any:
    """The request body's JSON: duplicate keys and overlong integers are a 400 (malformed JSON stays a
    JSONDecodeError, which the validation middleware turns into a 400 of its own)."""
    return json.loads(text, object_pairs_hook=_object_without_duplicates, parse_int=_bounded_int)


def _admit(event: Mapping[str, Any]) -> Principal:
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

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        try:
            caller = _admit(event)
        except DomainError as exc:
            return _result(exc.status_code, {"detail": exc.detail})
        except Exception:  # the catch-all also covers what runs before the route
            return _result(500, internal_error_body(context))
        self.append_context(principal=caller)  # type: ignore[no-untyped-call]  # unannotated in Powertools
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


def _domain_error(exc: DomainError) -> Response[dict[str, Any]]:
    headers = None
    if isinstance(exc, ServiceUnavailable):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
        logger.warning("service unavailable", extra={"detail": exc.detail, "cause": repr(exc.__cause__)})
    return error_response(exc.status_code, exc.detail, headers)


# What each path parameter of parley.api_params names, for the 404 a bad value gets (as an unknown id would).
PATH_NOUNS = {
    "conversation_id": "conversation",
    "data_set_id": "data set",
    "account_id": "service account",
    "task_id": "task",
}


def _validation_error(exc: RequestValidationError) -> Response[dict[str, Any]]:
    """Path and query parameters (typed in parley.api_params) and bodies that fail validation: a bad path id is
    an unknown resource (404), a bad query parameter a bad request (400), a bad body field 422."""
    errors = exc.errors()
    for error in errors:
        location = tuple(error.get("loc", ()))
        if location[:1] == ("path",):
            return error_response(404, f"{PATH_NOUNS.get(str(location[-1]), 'resource')} not found")
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "Malformed JSON body.")
    if any(e.get("type") == "unsupported_content_type" for e in errors):
        return error_response(415, "Send the body as JSON with Content-Type: application/json.")
    detail = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "value_error")}
        for e in errors
    ]
    if any(tuple(e.get("loc", ()))[:1] == ("query",) for e in errors):
        return error_response(400, [d for d in detail if d["loc"][:1] == ["query"]])
    # A body that is valid JSON but not an object is a malformed request rather than a field error.
    if any(e.get("loc") == ("body",) and e.get("type") in ("model_attributes_type", "dict_type") for e in errors):
        return error_response(400, "The JSON body must be an object.")
    if any(e.get("loc") == ("body",) and e.get("type") == "missing" for e in errors):
        return error_response(400, "A JSON object body is required.")
    return error_response(422, detail)


def _not_found(_: NotFoundError) -> Response[dict[str, Any]]:
    return error_response(404, "Not found.")


def create_app() -> ParleyResolver:
    app = ParleyResolver()
    app.exception_handler(Exception)(
        lambda _: Response(500, content_types.APPLICATION_JSON, internal_error_body(app.lambda_context))
    )
    app.exception_handler(DomainError)(_domain_error)
    app.exception_handler(RequestValidationError)(_validation_error)
    app.not_found(_not_found)
    return app
