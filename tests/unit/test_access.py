"""Access control on every route of template.yaml (read from the template, so a new route cannot skip it)."""

from __future__ import annotations

import io
import json
import logging
import re
import uuid

import pytest

from parley.logic import accounts
from parley.logic.access import OPERATOR
from parley_local.template import Stack

ROUTES = [(r.method, r.path) for r in Stack().routes() if not r.public]  # public: `Authorizer: NONE`
DOCS_ROUTES = {("GET", "/api/openapi.json"), ("GET", "/api/docs"), ("GET", "/api/docs/{asset}")}
ADMIN_ONLY = {
    ("POST", "/api/data_sets"),
    ("POST", "/api/data_sets/{data_set_id}/products"),
    ("POST", "/api/data_sets/{data_set_id}/documents"),
    ("POST", "/api/service_accounts"),
    ("GET", "/api/service_accounts"),
    ("PATCH", "/api/service_accounts/{account_id}"),
    ("POST", "/api/service_accounts/{account_id}/reset_token"),
}
VALID_BODIES = {
    ("POST", "/api/conversations"): {"data_set_id": 1},
    ("POST", "/api/conversations/{conversation_id}"): {"question_message": "Hello?"},
    ("POST", "/api/data_sets"): {"name": "x"},
    ("POST", "/api/data_sets/{data_set_id}/products"): {"products": [{"sku": "s", "name": "n"}]},
    ("POST", "/api/data_sets/{data_set_id}/documents"): {"documents": [{"title": "t", "content": "c"}]},
    ("POST", "/api/service_accounts"): {"name": "x"},
    ("PATCH", "/api/service_accounts/{account_id}"): {"name": "y"},
}


def concrete(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)


@pytest.fixture
def ids(admin, drain) -> dict[str, str]:
    """Real ids owned by the admin account, for every path parameter in the template."""
    conversation = admin.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    task = admin.post(f"/api/conversations/{conversation}", {"question_message": "SLA?"}).json()["task_id"]
    drain()
    return {"conversation_id": str(conversation), "task_id": task, "data_set_id": "1", "account_id": "1"}


def test_every_template_route_is_covered_by_this_matrix():
    assert len(ROUTES) >= 14
    assert all(route in ROUTES for route in ADMIN_ONLY)


def test_only_the_documentation_routes_are_public():
    assert {(r.method, r.path) for r in Stack().routes() if r.public} == DOCS_ROUTES


@pytest.mark.parametrize("method,path", ROUTES)
def test_every_route_rejects_missing_malformed_unknown_and_disabled_tokens(
    method, path, ids, admin, make_user, gateway
):
    target = concrete(path, ids)
    body = VALID_BODIES.get((method, path))
    missing = admin.call(method, target, body, token=None)
    assert missing.status == 401 and missing.json()
    for header in ("Token", "Basic abc", "Token not-a-token", "Bearer prl_1_short", "Token prl_x_" + "A" * 43):
        malformed = admin.call(method, target, body, token=None, headers={"authorization": header})
        assert malformed.status == 401, header
        assert malformed.json() == {"detail": "Invalid token."}
    unknown = admin.call(method, target, body, token="prl_1_" + "B" * 43)
    assert unknown.status == 401 and unknown.json()["detail"]
    nobody = admin.call(method, target, body, token="prl_999_" + "B" * 43)
    assert nobody.status == 401
    disabled = make_user([1])
    accounts.update(OPERATOR, disabled.account["id"], {"is_active": False})
    gateway.clear_authorizer_cache()
    assert disabled.call(method, target, body).status == 401


@pytest.mark.parametrize("method,path", sorted(ADMIN_ONLY))
def test_admin_routes_refuse_other_accounts_with_403(method, path, ids, user):
    response = user.call(method, concrete(path, ids), VALID_BODIES.get((method, path)))
    assert response.status == 403 and "admin" in response.json()["detail"]


@pytest.mark.parametrize("method,path", [r for r in ROUTES if "{conversation_id}" in r[1] or "{task_id}" in r[1]])
def test_another_accounts_conversations_and_tasks_are_404(method, path, ids, user):
    response = user.call(method, concrete(path, ids), VALID_BODIES.get((method, path)))
    assert response.status == 404, response.body


def test_another_account_sees_nothing_in_its_lists(ids, make_user):
    newcomer = make_user([1])
    assert newcomer.get("/api/conversations").json() == {"results": [], "next_cursor": None}


def test_data_set_without_access_is_403_and_nothing_is_written(admin, make_user, drain):
    other = admin.post("/api/data_sets", {"name": "Private"}).json()["id"]
    outsider = make_user([1])
    assert outsider.post("/api/conversations", {"data_set_id": other}).status == 403
    assert outsider.get(f"/api/data_sets/{other}").status == 403
    assert [d["id"] for d in outsider.get("/api/data_sets").json()["results"]] == [1]
    assert outsider.get("/api/conversations").json()["results"] == []
    assert {d["id"] for d in admin.get("/api/data_sets").json()["results"]} == {1, other}


def test_removing_access_stops_sends_at_once_after_the_cache(make_user, gateway, drain):
    member = make_user([1])
    conversation = member.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    assert member.post(f"/api/conversations/{conversation}", {"question_message": "SLA?"}).status == 202
    accounts.update(OPERATOR, member.account["id"], {"data_set_ids": []})
    gateway.clear_authorizer_cache()  # as when the authorizer cache TTL has passed
    refused = member.post(f"/api/conversations/{conversation}", {"question_message": "again?"})
    assert refused.status == 403
    drain()
    history = member.get(f"/api/conversations/{conversation}").json()["history"]
    assert [m["text"] for m in history if m["role"] == "user"] == ["SLA?"]


def test_service_accounts_admin_api_and_token_reset(admin, gateway):
    created = admin.post("/api/service_accounts", {"name": "shop bot", "data_set_ids": [1]})
    assert created.status == 201
    account = created.json()
    token = account["token"]
    assert token.startswith("prl_") and len(token.split("_", 2)[2]) == 43
    listed = admin.get("/api/service_accounts?limit=100").json()["results"]
    assert any(a["id"] == account["id"] for a in listed)
    assert all("token" not in a and "token_hash" not in a for a in listed)

    bot = type(admin)(gateway, token)
    assert bot.get("/api/data_sets").status == 200
    reset = admin.post(f"/api/service_accounts/{account['id']}/reset_token").json()
    gateway.clear_authorizer_cache()
    assert bot.get("/api/data_sets").status == 401
    assert type(admin)(gateway, reset["token"]).get("/api/data_sets").status == 200

    patched = admin.patch(f"/api/service_accounts/{account['id']}", {"is_active": False, "name": "old bot"})
    assert patched.status == 200 and patched.json()["is_active"] is False and patched.json()["name"] == "old bot"
    assert admin.patch("/api/service_accounts/4242", {"name": "x"}).status == 404
    unknown = admin.post("/api/service_accounts", {"name": "x", "data_set_ids": [1, 404]})
    assert unknown.status == 422 and "404" in unknown.json()["detail"]
    assert admin.patch(f"/api/service_accounts/{account['id']}", {"data_set_ids": [77]}).status == 422


def test_service_account_list_paginates(admin):
    for i in range(3):
        admin.post("/api/service_accounts", {"name": f"bot {i}"})
    first = admin.get("/api/service_accounts?limit=2").json()
    assert len(first["results"]) == 2 and first["next_cursor"]
    rest = admin.get(f"/api/service_accounts?limit=10&cursor={first['next_cursor']}").json()
    ids = [a["id"] for a in first["results"] + rest["results"]]
    assert len(ids) == len(set(ids)) == 4 and rest["next_cursor"] is None


def test_tokens_are_stored_only_as_hashes(sample, cloud):
    import boto3

    table = cloud.environment()["ACCOUNTS_TABLE"]
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    dump = json.dumps(items)
    assert sample["token"] not in dump
    assert any("token_hash" in item for item in items)


def test_logs_never_contain_tokens_or_the_authorization_header(admin, drain):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    # Powertools' logger is the "parley" logging logger (it does not propagate): listen there and at the root.
    watched = [logging.getLogger("parley"), logging.getLogger()]
    levels = [log.level for log in watched]
    for log in watched:
        log.addHandler(handler)
        log.setLevel(logging.INFO)  # what the code logs in production, whatever level another test left
    try:
        conversation = admin.post("/api/conversations", {"data_set_id": 1}).json()["id"]
        admin.post(f"/api/conversations/{conversation}", {"question_message": "SLA?"})
        admin.get(f"/api/conversations/{conversation}", token="prl_1_" + "C" * 43)
        drain()
    finally:
        for log, level in zip(watched, levels):
            log.removeHandler(handler)
            log.setLevel(level)
    logs = stream.getvalue()
    assert "request authenticated" in logs and "request not authenticated" in logs  # the logs were captured
    secret = admin.token.split("_", 2)[2]
    assert secret not in logs and "C" * 43 not in logs
    assert "authorization" not in logs.lower()


def test_identity_in_the_body_or_headers_is_ignored(user, admin):
    conversation = admin.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    spoof = user.get(f"/api/conversations/{conversation}", headers={"x-account-id": "1"})
    assert spoof.status == 404
    sneaky = user.post("/api/data_sets", {"name": "x", "is_admin": True, "account_id": 1})
    assert sneaky.status == 403


def test_task_of_another_account_is_404_even_with_its_id(admin, user):
    conversation = admin.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    task = admin.post(f"/api/conversations/{conversation}", {"question_message": "hi"}).json()["task_id"]
    assert user.get(f"/api/task_status/{task}").status == 404
    assert user.get(f"/api/task_status/{uuid.uuid4()}").status == 404
