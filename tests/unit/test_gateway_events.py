"""The local gateway hands functions the event API Gateway (HTTP API, payload format 2.0) would.

The expected shape is AWS's documented example for format 2.0: header names lowercased and repeated
headers comma-joined, the Cookie header moved to `cookies`, repeated query keys comma-joined, path parameters
URL-decoded, non-text bodies base64-encoded, keys without a value left out, and the Lambda authorizer's
context under requestContext.authorizer.lambda."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from parley_local.runtime import Gateway

# Every top-level key AWS documents for a format 2.0 event (stageVariables only with stage variables).
DOCUMENTED_KEYS = {
    "version",
    "routeKey",
    "rawPath",
    "rawQueryString",
    "cookies",
    "headers",
    "queryStringParameters",
    "requestContext",
    "body",
    "pathParameters",
    "isBase64Encoded",
}
CONTEXT_KEYS = {
    "accountId",
    "apiId",
    "authorizer",
    "domainName",
    "domainPrefix",
    "http",
    "requestId",
    "routeKey",
    "stage",
    "time",
    "timeEpoch",
}


class Recorder:
    """Stands in for a function's instances: keeps the event and answers like a handler would."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        return {
            "statusCode": 202,
            "headers": {"Content-Type": "application/json", "X-Trace": "t"},
            "body": base64.b64encode(b'{"ok": true}').decode(),
            "isBase64Encoded": True,
        }


@pytest.fixture
def recorded(template_stack, sample):
    gateway = Gateway(template_stack)
    recorder = Recorder()
    for route in gateway.routes:
        if route.route_key == "POST /api/conversations/{conversation_id}":
            gateway.pools[route.function] = recorder
    return gateway, recorder, sample["token"]


def test_a_request_becomes_a_payload_2_0_event(recorded):
    gateway, recorder, token = recorded
    body = bytes(range(256))  # not UTF-8
    response = gateway.handle(
        "POST",
        "/api/conversations/12%2034?a=1&b=x%2Fy&a=3&empty=",
        [
            ("Authorization", f"Token {token}"),
            ("Host", "127.0.0.1:3000"),
            ("User-Agent", "pytest/1"),
            ("X-Multi", "one"),
            ("x-multi", "two"),
            ("Cookie", "theme=dark; session=abc"),
            ("Content-Type", "application/octet-stream"),
        ],
        body,
    )
    assert response.status == 202 and response.body == b'{"ok": true}'
    assert response.headers == {"content-type": "application/json", "x-trace": "t"}
    (event,) = recorder.events

    assert set(event) == DOCUMENTED_KEYS
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /api/conversations/{conversation_id}"
    assert event["rawPath"] == "/api/conversations/12%2034"
    assert event["rawQueryString"] == "a=1&b=x%2Fy&a=3&empty="
    assert event["pathParameters"] == {"conversation_id": "12 34"}
    assert event["queryStringParameters"] == {"a": "1,3", "b": "x/y", "empty": ""}
    assert event["cookies"] == ["theme=dark", "session=abc"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-multi"] == "one,two"
    assert all(name == name.lower() for name in event["headers"])
    assert event["headers"]["authorization"] == f"Token {token}"
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == body

    context = event["requestContext"]
    assert set(context) == CONTEXT_KEYS
    assert context["routeKey"] == event["routeKey"] and context["stage"] == "$default"
    assert context["accountId"].isdigit() and len(context["accountId"]) == 12
    assert context["domainName"] == "127.0.0.1:3000"
    assert context["http"] == {
        "method": "POST",
        "path": "/api/conversations/12%2034",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "pytest/1",
    }
    assert re.fullmatch(r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000", context["time"])
    assert isinstance(context["timeEpoch"], int) and context["timeEpoch"] > 1_600_000_000_000
    assert context["authorizer"] == {
        "lambda": {"authenticated": "true", "account_id": "1", "is_admin": "true", "data_set_ids": "1"}
    }

    # Powertools (what the handlers use) reads it as the AWS event it is.
    parsed = APIGatewayProxyEventV2(event)
    assert parsed.path_parameters == {"conversation_id": "12 34"}
    assert parsed.get_query_string_value("b") == "x/y"
    assert parsed.cookies == ["theme=dark", "session=abc"]
    assert parsed.is_base64_encoded and base64.b64decode(parsed.body) == body
    assert parsed.request_context.authorizer.get_lambda["account_id"] == "1"


def test_text_bodies_stay_text_and_absent_parts_are_left_out(recorded):
    gateway, recorder, token = recorded
    gateway.handle(
        "POST",
        "/api/conversations/5",
        [("Authorization", f"Token {token}"), ("Content-Type", "application/json; charset=utf-8")],
        '{"question_message": "ça va?"}'.encode(),
    )
    gateway.handle("POST", "/api/conversations/5", [("Authorization", f"Token {token}")], b"")
    with_text, empty = recorder.events

    assert with_text["isBase64Encoded"] is False and with_text["body"] == '{"question_message": "ça va?"}'
    assert empty["isBase64Encoded"] is False and "body" not in empty
    for event in (with_text, empty):
        assert event["rawQueryString"] == ""
        assert not {"queryStringParameters", "cookies"} & set(event)
        assert event["pathParameters"] == {"conversation_id": "5"}


def test_the_authorizer_gets_a_payload_2_0_request(template_stack, sample):
    gateway = Gateway(template_stack)
    requests: list[dict[str, Any]] = []
    real = gateway.pools[gateway.authorizer_name]

    class Spy:
        def invoke(self, event: dict[str, Any]) -> Any:
            requests.append(event)
            return real.invoke(event)

    gateway.pools[gateway.authorizer_name] = Spy()
    assert gateway.handle("GET", "/api/data_sets?x=1", [("Authorization", f"Token {sample['token']}")]).status == 200
    (request,) = requests
    assert request["version"] == "2.0" and request["type"] == "REQUEST"
    assert request["identitySource"] == [f"Token {sample['token']}"]
    assert request["routeKey"] == "GET /api/data_sets" and request["rawPath"] == "/api/data_sets"
    assert request["queryStringParameters"] == {"x": "1"}
    assert request["routeArn"].startswith("arn:aws:execute-api:")
    assert "authorizer" not in request["requestContext"]
