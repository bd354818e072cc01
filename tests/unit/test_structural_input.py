"""Structurally hostile JSON on every route that takes a body (schemathesis never generates these): depth,
width, huge numbers, duplicate keys. Each is a 4xx with a `detail`, never a 5xx, and writes nothing. Also the
catch-all: an unexpected exception is a 500 in the `detail` shape, with the Lambda request id and a metric."""

from __future__ import annotations

import json
import re

import pytest

from parley_local.template import Stack

from .test_bad_input import table_items

BODY_ROUTES = [(r.method, r.path) for r in Stack().routes() if r.method in ("POST", "PATCH") and not r.public]


@pytest.fixture
def targets(admin) -> dict[tuple[str, str], str]:
    conversation = admin.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    ids = {"conversation_id": str(conversation), "data_set_id": "1", "account_id": "1"}
    return {route: re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], route[1]) for route in BODY_ROUTES}


def test_every_body_route_is_covered():
    assert len(BODY_ROUTES) >= 9


DEEP = 5_000
DEPTH_ATTACKS = {
    "deep objects": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    "deep lists": b'{"question_message": "hi", "x": ' + b"[" * DEEP + b"]" * DEEP + b"}",
    "unclosed objects": b'{"a":' * DEEP,
    "unclosed lists": b"[" * DEEP,
    "deep inside a field": b'{"data_set_id": ' + b"[" * DEEP + b"]" * DEEP + b"}",
}


@pytest.mark.parametrize("attack", sorted(DEPTH_ATTACKS))
@pytest.mark.parametrize("method,path", BODY_ROUTES)
def test_deep_nesting_is_400_on_every_body_route(attack, method, path, admin, targets, cloud):
    before = table_items(cloud)
    response = admin.call(method, targets[(method, path)], raw=DEPTH_ATTACKS[attack])
    assert response.status == 400, response.body[:300]
    assert "nested" in response.json()["detail"]
    assert table_items(cloud) == before


def test_nesting_within_the_limit_is_accepted(admin, targets):
    nested = {"question_message": "hi", "extra": json.loads("[" * 60 + "]" * 60)}
    assert admin.post(targets[("POST", "/api/conversations/{conversation_id}")], nested).status == 202


def test_brackets_inside_strings_do_not_count_as_nesting(admin, targets):
    body = {"question_message": "[" * 5_000 + "{" * 5_000}
    assert admin.post(targets[("POST", "/api/conversations/{conversation_id}")], body).status == 202


def test_a_hundred_thousand_extra_keys_are_ignored(admin, targets):
    raw = json.dumps(
        {"question_message": "hi", **{f"{i:x}": 0 for i in range(100_000)}}, separators=(",", ":")
    ).encode()
    assert len(raw) < 1024 * 1024
    assert admin.call("POST", targets[("POST", "/api/conversations/{conversation_id}")], raw=raw).status == 202


WIDE_INVALID = {
    "300k invalid products": b'{"products": [' + b",".join([b"0"] * 300_000) + b"]}",
    "100k invalid properties": b'{"products": [{"sku": "a", "name": "b", "properties": {'
    + b",".join(b'"%x":[]' % i for i in range(100_000))
    + b"}}]}",
    "5,000 products of 20 invalid properties": json.dumps(
        {"products": [{"sku": "a", "name": "b", "properties": {f"{i:x}": [] for i in range(20)}}] * 5_000},
        separators=(",", ":"),
    ).encode(),
}


@pytest.mark.parametrize("attack", sorted(WIDE_INVALID))
def test_very_wide_invalid_bodies_get_a_short_422(attack, admin, cloud):
    """Each of these once meant 100,000s of field errors: seconds of work (past Lambda's timeout) and a
    response of up to 50 MB. Lists stop at their first invalid item, maps are measured before their values
    are checked, and at most 50 errors are listed."""
    raw = WIDE_INVALID[attack]
    assert len(raw) < 1024 * 1024
    before = table_items(cloud)
    response = admin.call("POST", "/api/data_sets/1/products", raw=raw)
    assert response.status == 422, response.body[:300]
    assert len(response.body) < 20_000
    detail = response.json()["detail"]
    if attack.startswith("300k"):  # the first item ends it
        assert len(detail) == 1 and detail[0]["loc"] == ["body", "products", 0]
    elif attack.startswith("100k"):  # the map's size
        assert len(detail) == 1 and detail[0]["loc"] == ["body", "products", 0, "properties"]
        assert "at most 200 entries" in detail[0]["msg"]
    else:  # the first product's errors, 50 of them listed
        assert len(detail) == 51 and all(e["loc"][:3] == ["body", "products", 0] for e in detail[:50])
        assert detail[-1]["type"] == "too_many_errors" and detail[-1]["msg"].endswith("more errors not shown")
    assert table_items(cloud) == before


@pytest.mark.parametrize(
    "raw,status,mentions",
    [
        (b'{"data_set_id": 1e999}', 422, "data_set_id"),
        (b'{"data_set_id": -1e999}', 422, "data_set_id"),
        (b'{"data_set_id": ' + b"9" * 5_000 + b"}", 400, "digits"),
        (b'{"data_set_id": 1, "x": ' + b"1" * 100_000 + b"}", 400, "digits"),
        (b'{"data_set_id": 0.' + b"0" * 5_000 + b"1}", 422, "data_set_id"),
    ],
)
def test_huge_numbers_are_4xx(raw, status, mentions, admin, cloud):
    before = table_items(cloud)
    response = admin.call("POST", "/api/conversations", raw=raw)
    assert response.status == status, response.body[:300]
    assert mentions in json.dumps(response.json()["detail"])
    assert table_items(cloud) == before


@pytest.mark.parametrize(
    "raw",
    [
        b'{"products": [{"sku": "a", "name": "b", "properties": {"x": 1e999}}]}',
        b'{"products": [{"sku": "a", "name": "b", "price": ' + b"9" * 5_000 + b"}]}",
    ],
)
def test_huge_numbers_in_products_are_4xx(raw, admin, cloud):
    before = table_items(cloud)
    response = admin.call("POST", "/api/data_sets/1/products", raw=raw)
    assert response.status in (400, 422), response.body[:300]
    assert table_items(cloud) == before


@pytest.mark.parametrize(
    "raw,key",
    [
        (b'{"question_message": 1, "question_message": "ok"}', "question_message"),
        (b'{"question_message": "ok", "question_message": "ok"}', "question_message"),
        (b'{"question_message": "ok", "x": {"a": 1, "a": 2}}', "a"),
    ],
)
def test_duplicate_keys_are_400_naming_the_key(raw, key, admin, targets, cloud):
    before = table_items(cloud)
    response = admin.call("POST", targets[("POST", "/api/conversations/{conversation_id}")], raw=raw)
    assert response.status == 400, response.body
    assert f'"{key}"' in response.json()["detail"] and "uplicate" in response.json()["detail"]
    assert table_items(cloud) == before


def test_an_unexpected_exception_is_a_500_with_detail_request_id_and_a_metric(
    admin, targets, monkeypatch, capsys, caplog
):
    from parley.logic import conversations

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(conversations, "read", broken)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    capsys.readouterr()
    response = admin.get(targets[("POST", "/api/conversations/{conversation_id}")])
    assert response.status == 500
    body = response.json()
    assert body["detail"] == "internal error" and "secret" not in response.body.decode()
    assert re.fullmatch(r"[0-9a-f-]{36}", body["request_id"])
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    metrics = [m for m in printed if "UnhandledErrors" in m]
    assert len(metrics) == 1 and metrics[0]["UnhandledErrors"] in (1, [1])
    assert metrics[0]["function"] == "GetConversationFunction"
    logged = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert len(logged) == 1 and logged[0].request_id == body["request_id"]
    assert "secret internals" in str(logged[0].exc_info[1])  # the log keeps what the client does not see
