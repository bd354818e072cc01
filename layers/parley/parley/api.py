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
from parley.errors import BadRequest, DomainError, NotFound, PayloadTooLarge, ServiceUnavailable, Unauthenticated
from parley.ids import MAX_SAFE_INTEGER
from parley.log import logger


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
            base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise BadRequest("The request body is not valid UTF-8 JSON.") from None
    content_type = str((event.get("headers") or {}).get("content-type") or "").strip().lower()
    if body and content_type and not content_type.startswith("application/json"):
        raise UnsupportedMediaType("Send the body as JSON with Content-Type: application/json.")
    return caller


class ParleyResolver(APIGatewayHttpResolver):
    """The Powertools HTTP API resolver, admitting a request (401/413/415/400) before it validates the body."""

    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            caller = _admit(event)
        except DomainError as exc:
            return {
                "statusCode": exc.status_code,
                "headers": {"Content-Type": content_types.APPLICATION_JSON},
                "body": json.dumps({"detail": exc.detail}),
                "isBase64Encoded": False,
            }
        self.append_context(principal=caller)
        logger.append_keys(account_id=caller.account_id)
        return super().resolve(event, context)


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
    app = ParleyResolver(enable_validation=True)
    app.exception_handler(DomainError)(_domain_error)
    app.exception_handler(RequestValidationError)(_validation_error)
    app.not_found(_not_found)
    return app
