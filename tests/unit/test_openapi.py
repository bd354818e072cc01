"""The OpenAPI document: current, complete against template.yaml, true to what the handlers return, and served
(with Swagger UI's files) through the gateway without a token."""

from __future__ import annotations

import copy
import gzip
import json
import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from parley_local import openapi
from parley_local.template import ROOT, Stack

DOCUMENT = json.loads((ROOT / "docs" / "openapi.json").read_text())
STATIC = ROOT / "functions" / "api_docs" / "static"


def test_the_checked_in_documents_are_current():
    text = openapi.render(openapi.build())
    for path in openapi.OUTPUTS:
        assert path.read_text() == text, f"{path.relative_to(ROOT)} is stale: run make openapi"


def test_every_template_route_is_an_operation_with_its_method_and_security():
    routes = Stack().routes()
    operations = {(method.upper(), path) for path, ops in DOCUMENT["paths"].items() for method in ops}
    assert operations == {(r.method, r.path) for r in routes}
    for route in routes:
        operation = DOCUMENT["paths"][route.path][route.method.lower()]
        assert operation["security"] == ([] if route.public else [{"Token": []}]), route.route_key
        assert "401" in operation["responses"] or route.public
        statuses = [int(s) for s in operation["responses"]]
        assert len([s for s in statuses if s < 400]) == 1, route.route_key
        assert operation["summary"] and operation["tags"], route.route_key


def test_the_token_scheme_and_document_header():
    assert DOCUMENT["openapi"].startswith("3.1")
    assert DOCUMENT["info"]["title"] == "parley" and DOCUMENT["info"]["version"]
    assert DOCUMENT["servers"] == [{"url": "/"}]
    assert DOCUMENT["components"]["securitySchemes"]["Token"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": openapi.TOKEN_SCHEME["description"],
    }
    assert DOCUMENT["components"]["securitySchemes"]["Token"]["description"].startswith("Token prl_")
    assert DOCUMENT["security"] == [{"Token": []}]


def test_request_bodies_come_from_the_handlers_models_and_every_reference_resolves():
    body = DOCUMENT["paths"]["/api/conversations/{conversation_id}"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/SendMessageRequest"}
    question = DOCUMENT["components"]["schemas"]["SendMessageRequest"]["properties"]["question_message"]
    assert question["maxLength"] == 16_000 and question["minLength"] == 1
    references = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(DOCUMENT)))
    assert references <= DOCUMENT["components"]["schemas"].keys()
    assert not references & openapi.POWERTOOLS_SCHEMAS


def _strict(schema: Any) -> Any:
    """The document's schemas, refusing properties they do not list: an undocumented field fails the test."""
    if isinstance(schema, dict):
        strict = {k: _strict(v) for k, v in schema.items()}
        if "properties" in schema:
            strict["additionalProperties"] = False
        return strict
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


COMPONENTS = _strict(copy.deepcopy(DOCUMENT["components"]))


def conforms(method: str, path: str, response) -> Any:
    """Assert that a real response is one the document describes for the operation; return its JSON."""
    described = DOCUMENT["paths"][path][method.lower()]["responses"]
    assert str(response.status) in described, (method, path, response.status, response.body)
    schema = described[str(response.status)]["content"]["application/json"]["schema"]
    body = response.json()
    errors = list(Draft202012Validator({**_strict(schema), "components": COMPONENTS}).iter_errors(body))
    assert not errors, (method, path, [e.message for e in errors], body)
    return body


def test_real_responses_match_the_documented_shapes(admin, user, drain, gateway):
    created = conforms("POST", "/api/conversations", admin.post("/api/conversations", {"data_set_id": 1}))
    conversation = f"/api/conversations/{created['id']}"
    task = conforms(
        "POST",
        "/api/conversations/{conversation_id}",
        admin.post(conversation, {"question_message": "Does FiberUP Business Duplex include an SLA?"}),
    )
    pending = conforms("GET", "/api/task_status/{task_id}", admin.get(f"/api/task_status/{task['task_id']}"))
    assert pending["state"] == "PENDING"
    drain()
    done = conforms("GET", "/api/task_status/{task_id}", admin.get(f"/api/task_status/{task['task_id']}"))
    assert done["state"] == "SUCCESS"
    history = conforms("GET", "/api/conversations/{conversation_id}", admin.get(conversation))["history"]
    assert history[-1]["role"] == "agent" and history[-1]["sources"]
    assert conforms("GET", "/api/conversations", admin.get("/api/conversations?limit=1"))["results"]

    listed = conforms("GET", "/api/data_sets", admin.get("/api/data_sets"))["results"]
    assert listed and conforms("GET", "/api/data_sets/{data_set_id}", admin.get("/api/data_sets/1"))["id"] == 1
    data_set = conforms("POST", "/api/data_sets", admin.post("/api/data_sets", {"name": "Catalogue"}))
    load = conforms(
        "POST",
        "/api/data_sets/{data_set_id}/products",
        admin.post(f"/api/data_sets/{data_set['id']}/products", {"products": [{"sku": "S1", "name": "Router"}]}),
    )
    drain()
    loaded = conforms("GET", "/api/task_status/{task_id}", admin.get(f"/api/task_status/{load['task_id']}"))
    assert loaded["result"]["product_count"] == 1

    account = conforms("POST", "/api/service_accounts", admin.post("/api/service_accounts", {"name": "bot"}))
    assert conforms("GET", "/api/service_accounts", admin.get("/api/service_accounts"))["results"]
    conforms(
        "PATCH",
        "/api/service_accounts/{account_id}",
        admin.patch(f"/api/service_accounts/{account['id']}", {"name": "robot"}),
    )
    conforms(
        "POST",
        "/api/service_accounts/{account_id}/reset_token",
        admin.post(f"/api/service_accounts/{account['id']}/reset_token"),
    )

    # the documented errors, including API Gateway's own answer to a request without a token
    conforms("GET", "/api/data_sets", admin.get("/api/data_sets", token=None))
    conforms("GET", "/api/data_sets", admin.get("/api/data_sets", token="prl_1_" + "B" * 43))
    conforms("POST", "/api/data_sets", user.post("/api/data_sets", {"name": "x"}))
    conforms("GET", "/api/conversations/{conversation_id}", user.get(conversation))
    conforms("POST", "/api/conversations", admin.post("/api/conversations", {"data_set_id": "1"}))
    conforms("POST", "/api/conversations", admin.post("/api/conversations", raw=b"{not json"))


QUERIED = [
    f"{method.upper()} {path}"
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
    if any(p["in"] == "query" for p in operation.get("parameters", []))
]


def test_path_ids_are_typed_and_no_operation_documents_powertools_422():
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["name"].endswith("_id") and parameter["in"] == "path" and parameter["name"] != "task_id":
                    assert parameter["schema"]["type"] == "integer" and parameter["schema"]["minimum"] == 1
            assert ("422" in operation["responses"]) == ("requestBody" in operation), (method, path)


@pytest.mark.parametrize("route_key", QUERIED)
def test_documented_query_parameters_are_read_by_the_handler(route_key, admin):
    method, path = route_key.split(" ")
    operation = DOCUMENT["paths"][path][method.lower()]
    for parameter in [p for p in operation["parameters"] if p["in"] == "query"]:
        if parameter["schema"].get("type") != "integer":
            continue
        refused = admin.call(method, f"{path}?{parameter['name']}=0")
        body = conforms(method, path, refused)
        assert refused.status == 400 and body["detail"][0]["loc"] == ["query", parameter["name"]]


def test_the_document_and_swagger_ui_are_served_without_a_token(gateway):
    document = gateway.handle("GET", "/api/openapi.json", [])
    assert document.status == 200 and document.headers["content-type"] == "application/json"
    assert document.json() == DOCUMENT

    page = gateway.handle("GET", "/api/docs", [])
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    scripts = re.findall(r'(?:src|href)="([^"]+)"', page.body.decode())
    assert scripts and all(s.startswith("docs/") for s in scripts)  # relative: served by this API, not a CDN
    for reference in scripts:
        asset = gateway.handle("GET", f"/api/{reference}", [])
        assert asset.status == 200, (reference, asset.body[:200])


@pytest.mark.parametrize(
    "name,content_type",
    [
        ("swagger-ui.css", "text/css"),
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-ui-standalone-preset.js", "text/javascript"),
    ],
)
def test_swagger_ui_files_are_served_from_the_function_with_their_type(gateway, name, content_type):
    assert (STATIC / name).is_file(), "Swagger UI's files are missing: run make swagger-assets"
    plain = gateway.handle("GET", f"/api/docs/{name}", [])
    assert plain.status == 200 and plain.headers["content-type"].split(";")[0] == content_type
    assert plain.body == (STATIC / name).read_bytes()
    zipped = gateway.handle("GET", f"/api/docs/{name}", [("Accept-Encoding", "gzip")])
    assert zipped.headers["content-encoding"] == "gzip" and gzip.decompress(zipped.body) == plain.body
    assert len(zipped.body) < len(plain.body) / 2


@pytest.mark.parametrize("name", ["index.html", "..%2Fapp.py", "openapi.json", "LICENSE"])
def test_only_swagger_ui_files_are_served_from_the_docs_folder(gateway, name):
    response = gateway.handle("GET", f"/api/docs/{name}", [])
    assert response.status == 404 and response.json() == {"detail": "Not found."}
