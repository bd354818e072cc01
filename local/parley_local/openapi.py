"""The API's OpenAPI 3.1 document: each function's own Powertools document, merged into one.

Every API function declares its route with its contract (Path/Query/Body types) and its OpenAPI metadata
(summary, description, tags, responses with examples), so Powertools describes each operation. This merges
them: paths, component schemas (and the response models of parley.responses the operations name), the
`Authorization: Token` security scheme, and checks that each function handles exactly the routes template.yaml
gives it, so the document cannot drift from the template.

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
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from parley import responses as response_models
from parley.api import SCHEMA_REF
from parley_local.template import ROOT, Route, Stack

OUTPUTS = (ROOT / "docs" / "openapi.json", ROOT / "functions" / "api_docs" / "openapi.json")
TOKEN_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": "Authorization",
    "description": "Token prl_...: send `Authorization: Token <your token>`. Every route but the "
    "documentation needs it; an admin creates service accounts and their tokens.",
}
# Powertools' own error schemas: parley.api answers ErrorResponse instead (and path or query errors as 404/400).
POWERTOOLS_SCHEMAS = {"HTTPValidationError", "ValidationError", "ResponseValidationError"}
TAGS = {
    "conversations": "Conversations and their messages: ask a question, then poll its task.",
    "tasks": "Asynchronous work (answers, data loads): poll until SUCCESS or FAILURE.",
    "data sets": "The products and documents that answers come from.",
    "service accounts": "Accounts and their tokens (admin only).",
    "documentation": "This document and Swagger UI (no token needed).",
}


def _version() -> str:
    with open(ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["project"]["version"]


def _resolver_schema(code_dir: Path, logical_id: str) -> tuple[dict[str, Any], set[str]]:
    """The function's resolver's own OpenAPI document, and the route keys it handles."""
    spec = importlib.util.spec_from_file_location(f"parley_openapi_{logical_id}", code_dir / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app = module.app
    document = json.loads(app.get_openapi_json_schema(title="parley", version=_version()))
    # Powertools has no public listing of its routes
    keys = {f"{route.method} {route.openapi_path}" for route in app._static_routes + app._dynamic_routes}
    return document, keys


def _operation(route: Route, generated: dict[str, Any]) -> dict[str, Any]:
    """The function's operation with the document's security, and without the 422 Powertools adds to every
    validated route: parley.api answers a bad path id 404 and a bad query parameter 400; routes with a body
    declare their own 422."""
    operation = dict(generated)
    responses = dict(operation["responses"])
    if "HTTPValidationError" in json.dumps(responses.get("422", {})):
        del responses["422"]
    operation["responses"] = responses
    if "parameters" in operation:
        operation["parameters"] = [{**p, "schema": _json_schema_bounds(p["schema"])} for p in operation["parameters"]]
    operation["security"] = [] if route.public else [{"Token": []}]
    return operation


def _json_schema_bounds(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter typed with a validator besides Path/Query (parley.api's canonical-id check) gets its bounds
    from Powertools as pydantic's `ge`/`le`; JSON Schema names them minimum and maximum."""
    renamed = {"ge": "minimum", "le": "maximum"}
    return {renamed.get(k, k): v for k, v in schema.items()}


def _add_schemas(schemas: dict[str, Any], found: dict[str, Any], origin: str) -> None:
    for name, schema in found.items():
        if name in schemas and schemas[name] != schema:
            raise ValueError(f"two different schemas are named {name} ({origin}); rename one of the models")
        schemas[name] = schema


def _response_schemas(paths: dict[str, Any], known: dict[str, Any]) -> dict[str, Any]:
    """The parley.responses models the operations name (by reference) and the function documents lack."""
    named = set(re.findall(re.escape(SCHEMA_REF) + r'([A-Za-z0-9_]+)"', json.dumps(paths))) - known.keys()
    models = []
    for name in sorted(named):
        model = getattr(response_models, name, None)
        if model is None:
            raise LookupError(f"an operation names the response model {name}, which parley.responses lacks")
        models.append((model, "serialization"))
    _, found = models_json_schema(models, ref_template=SCHEMA_REF + "{model}")
    # Powertools leaves out `"default": null` (it dumps without None); so must these, for shared models to match.
    return _without_null_defaults(found.get("$defs", {}))


def build(stack: Stack | None = None) -> dict[str, Any]:
    stack = stack or Stack()
    routes = stack.routes()
    functions = stack.functions()
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for logical_id in sorted({route.function for route in routes}):
        generated, handled = _resolver_schema(functions[logical_id].code_dir, logical_id)
        own = [route for route in routes if route.function == logical_id]
        extra = sorted(handled - {route.route_key for route in own})
        if extra:
            raise LookupError(f"{logical_id} handles {', '.join(extra)}, which template.yaml does not route to it")
        for route in own:
            if route.route_key not in handled:
                raise LookupError(f"template.yaml routes {route.route_key} to {logical_id}, which does not handle it")
            paths.setdefault(route.path, {})[route.method.lower()] = _operation(
                route, generated["paths"][route.path][route.method.lower()]
            )
        found = generated.get("components", {}).get("schemas", {})
        _add_schemas(schemas, {k: v for k, v in found.items() if k not in POWERTOOLS_SCHEMAS}, logical_id)
    _add_schemas(schemas, _response_schemas(paths, schemas), "parley.responses")

    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "parley",
            "version": _version(),
            "description": "A conversation API for agents that answer questions about a company's own data. "
            "Generated from the handlers and template.yaml by `make openapi`.",
        },
        "servers": [{"url": "/"}],
        "security": [{"Token": []}],
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"Token": TOKEN_SCHEME}},
    }
    return _integral_floats_as_ints(document)


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
