"""events/<function dir>.json (the files `sam local invoke <Function> -e ...` takes) stay valid: each one is
handed to its function's real handler, in-process under moto with the FiberUP sample loaded, and must get
the answer a client would want. A function of template.yaml without an event file fails here."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from parley.dal.tasks import TaskRepository
from parley_local.runtime import InProcessPool
from parley_local.template import ROOT, Stack

EVENTS = ROOT / "events"
FUNCTIONS = Stack().functions()
ADMIN_CONTEXT = {"authenticated": "true", "account_id": "1", "is_admin": "true", "data_set_ids": "1"}


def event_path(function_name: str) -> Path:
    return EVENTS / f"{FUNCTIONS[function_name].code_dir.name}.json"


def test_every_event_file_belongs_to_a_function():
    known = {fn.code_dir.name for fn in FUNCTIONS.values()}
    assert {p.stem for p in EVENTS.glob("*.json")} <= known


def _set_path_parameter(event: dict[str, Any], name: str, value: str) -> None:
    """Point an API event at an object that exists in this test's emulated account."""
    old = event["pathParameters"][name]
    event["pathParameters"][name] = value
    event["rawPath"] = event["rawPath"].replace(f"/{old}", f"/{value}")
    event["requestContext"]["http"]["path"] = event["rawPath"]


def check_websocket_route(event: dict, pool: InProcessPool, admin) -> None:
    """A WebSocket route's event: $connect stores the connection, $disconnect removes it, a message subscribes."""
    from parley.dal.connections import ConnectionRepository

    connection_id = event["requestContext"]["connectionId"]
    if event["requestContext"]["eventType"] != "CONNECT":
        ConnectionRepository().add(connection_id, 1)
    if event["requestContext"]["eventType"] == "MESSAGE":
        conversation = admin.post("/api/conversations", {"data_set_id": 1}).json()["id"]
        event["body"] = json.dumps({"action": "subscribe", "conversation_id": conversation})
        result = pool.invoke(event)
        assert json.loads(result["body"]) == {"type": "subscribed", "conversation_id": conversation}
        return
    assert pool.invoke(event) == {"statusCode": 200}
    stored = ConnectionRepository().get(connection_id)
    assert (stored["account_id"] == 1) if event["requestContext"]["eventType"] == "CONNECT" else stored is None


@pytest.mark.parametrize("function_name", sorted(FUNCTIONS))
def test_the_event_file_of_each_function_gets_a_sensible_answer(function_name, template_stack, admin, make_user):
    path = event_path(function_name)
    assert path.is_file(), f"{function_name} has no event file: add {path.relative_to(ROOT)}"
    event = json.loads(path.read_text())
    pool = InProcessPool(FUNCTIONS[function_name])

    if "Records" in event:  # the SQS batch of the worker: answer a real pending question
        conversation = admin.post("/api/conversations", {"data_set_id": 1}).json()
        task_id = admin.post(
            f"/api/conversations/{conversation['id']}",
            {"question_message": "Does FiberUP Business Duplex include an SLA?"},
        ).json()["task_id"]
        record = event["Records"][0]
        assert json.loads(record["body"])["kind"] == "answer" and record["eventSource"] == "aws:sqs"
        record["body"] = json.dumps({"kind": "answer", "task_id": task_id})
        assert pool.invoke(event) == {"batchItemFailures": []}
        assert TaskRepository().get(task_id)["state"] == "SUCCESS"
        return

    if "methodArn" in event:  # the WebSocket API's $connect authorizer: an IAM policy with the same context
        event["queryStringParameters"]["token"] = admin.token
        result = pool.invoke(event)
        assert result["policyDocument"]["Statement"] == [
            {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
        ]
        assert result["principalId"] == "1" and result["context"] == ADMIN_CONTEXT
        event["queryStringParameters"]["token"] = "prl_1_" + "x" * 43
        assert pool.invoke(event)["policyDocument"]["Statement"][0]["Effect"] == "Deny"
        return

    if "eventType" in event.get("requestContext", {}):  # a WebSocket route, connection L0cAlC0nnId= of account 1
        check_websocket_route(event, pool, admin)
        return

    if event.get("type") == "REQUEST":  # the authorizer: the sample's dev token is the admin account 1
        token = admin.token
        event["headers"]["authorization"] = f"Token {token}"
        event["identitySource"] = [f"Token {token}"]
        assert pool.invoke(event) == {"isAuthorized": True, "context": ADMIN_CONTEXT}
        return

    if event.get("detail-type") == "Scheduled Event":  # a scheduled function (EventBridge)
        result = pool.invoke(event)
        assert isinstance(result, dict) and all(isinstance(v, int) for v in result.values())
        return

    # An HTTP API route: the payload 2.0 event of one of this function's routes, as the authorizer passed it.
    routes = {r.route_key: r for r in template_stack.routes() if r.function == function_name}
    assert event["version"] == "2.0" and event["routeKey"] in routes
    assert event["requestContext"]["routeKey"] == event["routeKey"]
    if routes[event["routeKey"]].public:
        assert "authorizer" not in event["requestContext"]
    else:
        assert event["requestContext"]["authorizer"] == {"lambda": ADMIN_CONTEXT}
        assert event["headers"]["authorization"].startswith("Token prl_1_")
    parameters = event.get("pathParameters") or {}
    if "conversation_id" in parameters:
        conversation = admin.post("/api/conversations", {"data_set_id": 1}).json()
        _set_path_parameter(event, "conversation_id", str(conversation["id"]))
    if "task_id" in parameters:
        conversation = admin.post("/api/conversations", {"data_set_id": 1}).json()
        sent = admin.post(f"/api/conversations/{conversation['id']}", {"question_message": "Is there an SLA?"})
        _set_path_parameter(event, "task_id", sent.json()["task_id"])
    if "account_id" in parameters:  # never the admin's own account: the event must not lock anyone out
        assert parameters["account_id"] != ADMIN_CONTEXT["account_id"]
        assert str(make_user([1]).account["id"]) == parameters["account_id"]

    result = pool.invoke(copy.deepcopy(event))
    assert 200 <= result["statusCode"] < 300, result
    content_type = {k.lower(): v for k, v in (result.get("headers") or {}).items()}.get("content-type", "")
    if content_type.startswith("application/json"):
        assert "detail" not in json.loads(result["body"])
