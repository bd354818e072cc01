"""Generates the API's OpenAPI 3.1 document from template.yaml and the handlers themselves.

Routes and methods come from template.yaml; for each one the function's own Powertools resolver describes
its path parameters and request body (from the pydantic models it validates with), and the table below adds
what a resolver cannot know: the summary, the success status and its model (parley.responses), the errors
the handler answers, and query parameters that handlers read by hand. A template route without an entry,
or an entry without a route, stops the generator, so the document cannot drift from the template.

This imports every API function module, which is why it lives in the local tooling and not in the layer:
the api_docs function serves the generated copy instead (functions/api_docs/openapi.json).

    python -m parley_local.openapi            print the document
    python -m parley_local.openapi --write    write docs/openapi.json and functions/api_docs/openapi.json
    python -m parley_local.openapi --check    exit 1 when a written copy is stale
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from parley import responses as r
from parley_local.template import ROOT, Route, Stack

OUTPUTS = (ROOT / "docs" / "openapi.json", ROOT / "functions" / "api_docs" / "openapi.json")
SCHEMA_REF = "#/components/schemas/{model}"
JSON = "application/json"
TOKEN_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": "Authorization",
    "description": "Token prl_...: send `Authorization: Token <your token>`. Every route but the "
    "documentation needs it; an admin creates service accounts and their tokens.",
}
# Powertools' own error schemas, replaced by ErrorResponse (what parley.api answers).
POWERTOOLS_SCHEMAS = {"HTTPValidationError", "ValidationError", "ResponseValidationError"}

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
BODY_ERRORS = (400, 413, 415, 422)
TAGS = {
    "conversations": "Conversations and their messages: ask a question, then poll its task.",
    "tasks": "Asynchronous work (answers, data loads): poll until SUCCESS or FAILURE.",
    "data sets": "The products and documents that answers come from.",
    "service accounts": "Accounts and their tokens (admin only).",
    "documentation": "This document and Swagger UI (no token needed).",
}
TAG_OF_SEGMENT = {
    "conversations": "conversations",
    "task_status": "tasks",
    "data_sets": "data sets",
    "service_accounts": "service accounts",
    "openapi.json": "documentation",
    "docs": "documentation",
}


@dataclass(frozen=True)
class Operation:
    """What the generator adds to a route's operation."""

    summary: str
    status: int
    success: str  # description of the success response
    model: type[BaseModel] | None = None  # JSON success body; None with content_types
    errors: tuple[int, ...] = ()  # besides 401, and the body errors of routes with a body
    query: tuple[dict[str, Any], ...] = ()  # parameters handlers read by hand (query and headers)
    content_types: tuple[str, ...] = ()  # non-JSON success bodies


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def _limit(default: int) -> dict[str, Any]:
    return _query("limit", "Page size.", {"type": "integer", "minimum": 1, "maximum": 100, "default": default})


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any 1 to 255 visible ASCII characters, unique per request, e.g. a UUID. Sent again with the same "
    "request within 24 hours, it gets the first response and nothing is done twice; with another "
    "request (method, path or body), a 422. Keys are per account.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
}

OPERATIONS: dict[str, Operation] = {
    "POST /api/conversations": Operation(
        "Start a conversation on a data set",
        201,
        "The new conversation.",
        r.ConversationCreated,
        (403, 404, 503),
        query=(IDEMPOTENCY_KEY,),
    ),
    "GET /api/conversations": Operation(
        "List your conversations, newest first",
        200,
        "A page of your conversations.",
        r.ConversationPage,
        (400,),
        query=(
            _limit(20),
            _query("cursor", "`next_cursor` of the previous page.", {"type": "string"}),
            _query("data_set_id", "Only conversations on this data set.", {"type": "integer", "minimum": 1}),
        ),
    ),
    "GET /api/conversations/{conversation_id}": Operation(
        "Read a conversation with its history",
        200,
        "The conversation and its messages, oldest first: all of them, or a page of about 1 MB when the history "
        "is longer (then `history_next_cursor` is set).",
        r.Conversation,
        (400, 404),
        query=(_query("cursor", "`history_next_cursor` of the previous page.", {"type": "string"}),),
    ),
    "DELETE /api/conversations/{conversation_id}": Operation(
        "Delete a conversation",
        204,
        "Deleted, with its messages and tasks: they answer 404 from now on.",
        errors=(404, 503),
    ),
    "POST /api/conversations/{conversation_id}": Operation(
        "Ask a question in a conversation",
        202,
        "The question is stored; the answer is produced asynchronously: poll the task.",
        r.TaskAccepted,
        (403, 404, 503),
        query=(IDEMPOTENCY_KEY,),
    ),
    "GET /api/task_status/{task_id}": Operation(
        "Poll a task", 200, "The task's state (PENDING until it has finished).", r.TaskStatus, (404,)
    ),
    "GET /api/data_sets": Operation(
        "List the data sets you can use", 200, "Every data set this account may use.", r.DataSetList
    ),
    "POST /api/data_sets": Operation("Create a data set (admin)", 201, "The new, empty data set.", r.DataSet, (403,)),
    "GET /api/data_sets/{data_set_id}": Operation("Read a data set", 200, "The data set.", r.DataSet, (403, 404)),
    "PATCH /api/data_sets/{data_set_id}/settings": Operation(
        "Replace a data set's answer settings (admin)",
        200,
        "The data set with its new settings.",
        r.DataSet,
        (403, 404),
    ),
    "POST /api/data_sets/{data_set_id}/products": Operation(
        "Load products into a data set (admin)",
        202,
        "The products are indexed asynchronously: poll the task.",
        r.TaskAccepted,
        (403, 404, 503),
        query=(IDEMPOTENCY_KEY,),
    ),
    "POST /api/data_sets/{data_set_id}/documents": Operation(
        "Load documents into a data set (admin)",
        202,
        "The documents are indexed asynchronously: poll the task.",
        r.TaskAccepted,
        (403, 404, 503),
        query=(IDEMPOTENCY_KEY,),
    ),
    "POST /api/service_accounts": Operation(
        "Create a service account (admin)",
        201,
        "The new account with its token (shown only now).",
        r.ServiceAccountWithToken,
        (403,),
    ),
    "GET /api/service_accounts": Operation(
        "List service accounts (admin)",
        200,
        "A page of accounts, by id.",
        r.ServiceAccountPage,
        (400, 403),
        query=(_limit(50), _query("cursor", "`next_cursor` of the previous page.", {"type": "integer", "minimum": 1})),
    ),
    "PATCH /api/service_accounts/{account_id}": Operation(
        "Update a service account (admin)", 200, "The updated account.", r.ServiceAccount, (403, 404)
    ),
    "POST /api/service_accounts/{account_id}/reset_token": Operation(
        "Replace a service account's token (admin)",
        200,
        "The account with its new token; the old token stops working.",
        r.ServiceAccountWithToken,
        (403, 404),
    ),
    "GET /api/openapi.json": Operation(
        "This OpenAPI document", 200, "The OpenAPI 3.1 document.", content_types=(JSON,)
    ),
    "GET /api/docs": Operation(
        "Swagger UI", 200, "An HTML page that reads /api/openapi.json.", content_types=("text/html",)
    ),
    "GET /api/docs/{asset}": Operation(
        "Swagger UI's scripts and styles",
        200,
        "The file.",
        errors=(404,),
        content_types=("text/css", "text/javascript"),
    ),
}


def _version() -> str:
    with open(ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["project"]["version"]


def _resolver_schema(code_dir: Path, logical_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The function's resolver's own OpenAPI document, and its handlers' names by route key."""
    spec = importlib.util.spec_from_file_location(f"parley_openapi_{logical_id}", code_dir / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app = module.app
    document = json.loads(app.get_openapi_json_schema(title="parley", version=_version()))
    names = {
        f"{route.method} {route.openapi_path}": route.func.__name__
        for route in app._static_routes + app._dynamic_routes
    }
    return document, names


def _error(status: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"$ref": SCHEMA_REF.format(model="ErrorResponse")}
    if status == 401:
        schema = {"anyOf": [schema, {"$ref": SCHEMA_REF.format(model="GatewayError")}]}
    response: dict[str, Any] = {"description": ERRORS[status], "content": {JSON: {"schema": schema}}}
    if status == 503:
        response["headers"] = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
    return response


def _operation(route: Route, generated: dict[str, Any], handler: str, described: Operation) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": handler,
        "summary": described.summary,
        "tags": [TAG_OF_SEGMENT[route.path.split("/")[2]]],
        "security": [] if route.public else [{"Token": []}],
    }
    parameters = [*generated.get("parameters", []), *described.query]
    if parameters:
        operation["parameters"] = parameters
    if "requestBody" in generated:
        operation["requestBody"] = generated["requestBody"]
    if described.model is not None:
        content = {JSON: {"schema": {"$ref": SCHEMA_REF.format(model=described.model.__name__)}}}
    else:
        content = {
            media: {"schema": {"type": "object"} if media == JSON else {"type": "string"}}
            for media in described.content_types
        }
    success: dict[str, Any] = {"description": described.success}
    if content:  # a 204 has no body
        success["content"] = content
    responses: dict[str, Any] = {str(described.status): success}
    errors = set(described.errors)
    if not route.public:
        errors.add(401)
    if "requestBody" in generated:
        errors.update(BODY_ERRORS)
    for status in sorted(errors):
        responses[str(status)] = _error(status)
    operation["responses"] = responses
    return operation


def _integral_floats_as_ints(value: Any) -> Any:
    """pydantic writes `le=MAX_SAFE_INTEGER` as 9007199254740991.0; JSON readers expect the integer."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral_floats_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(v) for v in value]
    return value


def _without_null_defaults(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_null_defaults(v) for k, v in value.items() if not (k == "default" and v is None)}
    if isinstance(value, list):
        return [_without_null_defaults(v) for v in value]
    return value


def _add_schemas(schemas: dict[str, Any], found: dict[str, Any], origin: str) -> None:
    for name, schema in found.items():
        if name in schemas and schemas[name] != schema:
            raise ValueError(f"two different schemas are named {name} ({origin}); rename one of the models")
        schemas[name] = schema


def build(stack: Stack | None = None) -> dict[str, Any]:
    stack = stack or Stack()
    routes = stack.routes()
    keys = {route.route_key for route in routes}
    undescribed = sorted(keys - OPERATIONS.keys())
    if undescribed:
        raise LookupError(f"describe {', '.join(undescribed)} in OPERATIONS of {__file__}")
    unrouted = sorted(OPERATIONS.keys() - keys)
    if unrouted:
        raise LookupError(f"OPERATIONS of {__file__} describes routes template.yaml lacks: {', '.join(unrouted)}")

    functions = stack.functions()
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for logical_id in sorted({route.function for route in routes}):
        generated, handlers = _resolver_schema(functions[logical_id].code_dir, logical_id)
        own = [route for route in routes if route.function == logical_id]
        extra = sorted(handlers.keys() - {route.route_key for route in own})
        if extra:
            raise LookupError(f"{logical_id} handles {', '.join(extra)}, which template.yaml does not route to it")
        for route in own:
            if route.route_key not in handlers:
                raise LookupError(f"template.yaml routes {route.route_key} to {logical_id}, which does not handle it")
            operation = generated["paths"][route.path][route.method.lower()]
            paths.setdefault(route.path, {})[route.method.lower()] = _operation(
                route, operation, handlers[route.route_key], OPERATIONS[route.route_key]
            )
        found = generated.get("components", {}).get("schemas", {})
        _add_schemas(schemas, {k: v for k, v in found.items() if k not in POWERTOOLS_SCHEMAS}, logical_id)

    models = {r.ErrorResponse, r.GatewayError} | {o.model for o in OPERATIONS.values() if o.model is not None}
    _, response_schemas = models_json_schema(
        [(m, "serialization") for m in sorted(models, key=lambda m: m.__name__)], ref_template=SCHEMA_REF
    )
    # Powertools leaves out `"default": null` (it dumps without None); so must these, for shared models to match.
    _add_schemas(schemas, _without_null_defaults(response_schemas.get("$defs", {})), "parley.responses")

    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "parley",
            "version": _version(),
            "description": "A conversation API for agents that answer questions about a company's own data. "
            "Generated from template.yaml and the handlers by `make openapi`.",
        },
        "servers": [{"url": "/"}],
        "security": [{"Token": []}],
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"Token": TOKEN_SCHEME}},
    }
    return _integral_floats_as_ints(document)


def render(document: dict[str, Any]) -> str:
    """Pretty-printed with sorted keys, so regenerating an unchanged API gives the same bytes."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def stale_outputs(text: str) -> list[Path]:
    return [path for path in OUTPUTS if not path.is_file() or path.read_text(encoding="utf-8") != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m parley_local.openapi", description=__doc__.split("\n")[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--write", action="store_true", help="write " + " and ".join(str(p.relative_to(ROOT)) for p in OUTPUTS)
    )
    action.add_argument("--check", action="store_true", help="exit 1 when a written copy is stale")
    args = parser.parse_args(argv)
    text = render(build())
    if args.write:
        for path in OUTPUTS:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    elif args.check:
        stale = stale_outputs(text)
        for path in stale:
            print(f"{path.relative_to(ROOT)} is stale: run make openapi", file=sys.stderr)
        return 1 if stale else 0
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
