"""Streaming over the WebSocket API: the real handlers behind the local WebSocket emulation, reached with a
real WebSocket client, and the worker publishing through the emulated @connections API."""

from __future__ import annotations

import json
import os
import time

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from parley import config
from parley.dal.connections import ConnectionRepository
from parley.logic import worker as worker_logic
from parley_local.websocket import WebSocketApi


@pytest.fixture
def ws(cloud, gateway):
    api = WebSocketApi(cloud.stack, lambda name, event: gateway.pools[name].invoke(event)).start()
    os.environ["WEBSOCKET_ENDPOINT"] = api.management_url
    config.reset()
    yield api
    api.stop()
    os.environ.pop("WEBSOCKET_ENDPOINT", None)
    config.reset()


def open_socket(ws, token=None, header=False):
    if header:
        return connect(ws.url, additional_headers={"Authorization": f"Token {token}"}, open_timeout=10)
    return connect(f"{ws.url}?token={token}", open_timeout=10)


def call(socket, message) -> dict:
    socket.send(json.dumps(message))
    return json.loads(socket.recv(timeout=10))


def events_until_done(socket) -> list[dict]:
    events = []
    while not events or events[-1]["type"] not in ("message.completed", "task.failed"):
        events.append(json.loads(socket.recv(timeout=10)))
    return events


def check_turn(events: list[dict], stored: dict, conversation: int, task: str) -> None:
    """A turn's events: task.started, the tool calls (steps), the answer text (deltas, concatenated exactly
    the stored text), then message.completed carrying the stored message; all of one conversation and task."""
    kinds = [e["type"] for e in events]
    steps, deltas = kinds.count("step"), kinds.count("delta")
    assert kinds == ["task.started"] + ["step"] * steps + ["delta"] * deltas + ["message.completed"], kinds
    assert deltas and "".join(e["text"] for e in events if e["type"] == "delta") == stored["text"]
    assert events[-1]["message"] == stored
    assert {(e["conversation_id"], e["task_id"]) for e in events} == {(conversation, task)}
    for step in (e for e in events if e["type"] == "step"):
        assert isinstance(step["tool"], str) and isinstance(step["arguments"], dict)
        assert isinstance(step["result_count"], int)


def new_conversation(api) -> int:
    return api.post("/api/conversations", {"data_set_id": 1}).json()["id"]


def test_a_turn_streams_started_steps_deltas_completed_in_order_and_completed_is_the_stored_message(ws, user, drain):
    conversation = new_conversation(user)
    with open_socket(ws, user.token) as socket:
        assert call(socket, {"action": "subscribe", "conversation_id": conversation}) == {
            "type": "subscribed",
            "conversation_id": conversation,
        }
        task = user.post(
            f"/api/conversations/{conversation}", {"question_message": "Does any plan include an SLA?"}
        ).json()["task_id"]
        drain()
        events = events_until_done(socket)
    stored = user.get(f"/api/conversations/{conversation}").json()["history"][-1]
    check_turn(events, stored, conversation, task)
    assert "step" in [e["type"] for e in events]  # the offline planner calls the catalog tools


def test_the_authorization_header_works_too_and_bad_tokens_are_refused(ws, user):
    with open_socket(ws, user.token, header=True) as socket:
        assert call(socket, {"action": "subscribe", "conversation_id": new_conversation(user)})["type"] == "subscribed"
    for token in ("prl_1_" + "x" * 43, "nonsense", ""):
        with pytest.raises(InvalidStatus) as refused:
            open_socket(ws, token)
        assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        connect(ws.url, open_timeout=10)  # no token at all


def test_subscribing_to_another_accounts_conversation_is_an_error_and_streams_nothing(ws, user, make_user, drain):
    other = make_user([1], name="other")
    theirs = new_conversation(other)
    with open_socket(ws, user.token) as socket:
        reply = call(socket, {"action": "subscribe", "conversation_id": theirs})
        assert reply["type"] == "error" and reply["error"]["code"] == "not_found"
        assert ConnectionRepository().subscribers(theirs) == []
        other.post(f"/api/conversations/{theirs}", {"question_message": "What plans are there?"})
        drain()
        mine = new_conversation(user)
        call(socket, {"action": "subscribe", "conversation_id": mine})
        user.post(f"/api/conversations/{mine}", {"question_message": "What plans are there?"})
        drain()
        assert {e["conversation_id"] for e in events_until_done(socket)} == {mine}


@pytest.mark.parametrize(
    "message,code",
    [
        ("not json", "bad_message"),
        ("[1]", "bad_message"),
        ('{"action": "shout", "conversation_id": 1}', "bad_message"),
        ('{"action": "subscribe", "conversation_id": "1"}', "bad_message"),
        ('{"action": "subscribe", "conversation_id": true}', "bad_message"),
        ('{"action": "subscribe", "conversation_id": 12345}', "not_found"),
    ],
)
def test_bad_client_messages_get_an_error_event(ws, user, message, code):
    with open_socket(ws, user.token) as socket:
        socket.send(message)
        reply = json.loads(socket.recv(timeout=10))
    assert reply["type"] == "error" and reply["error"]["code"] == code and reply["error"]["message"]


def test_unsubscribe_stops_events_and_disconnect_removes_the_connection(ws, user, drain):
    conversation = new_conversation(user)
    with open_socket(ws, user.token) as socket:
        call(socket, {"action": "subscribe", "conversation_id": conversation})
        assert len(ConnectionRepository().subscribers(conversation)) == 1
        assert call(socket, {"action": "unsubscribe", "conversation_id": conversation})["type"] == "unsubscribed"
        assert ConnectionRepository().subscribers(conversation) == []
        call(socket, {"action": "subscribe", "conversation_id": conversation})
    for _ in range(100):  # $disconnect runs after the close handshake
        if not ConnectionRepository().subscribers(conversation) and not ws.connections:
            break
        time.sleep(0.05)
    assert ConnectionRepository().subscribers(conversation) == []


def test_a_gone_connection_is_removed_and_the_answer_is_stored(ws, user, drain):
    conversation = new_conversation(user)
    repo = ConnectionRepository()
    repo.add("GONEGONEGONE=", user.account["id"])
    repo.subscribe("GONEGONEGONE=", conversation, user.account["id"], 2**31)
    user.post(f"/api/conversations/{conversation}", {"question_message": "What plans are there?"})
    drain()
    assert repo.get("GONEGONEGONE=") is None and repo.subscribers(conversation) == []
    assert user.get(f"/api/conversations/{conversation}").json()["history"][-1]["role"] == "agent"


def test_a_broken_management_endpoint_never_costs_the_answer(ws, user, drain, monkeypatch):
    conversation = new_conversation(user)
    with open_socket(ws, user.token) as socket:
        call(socket, {"action": "subscribe", "conversation_id": conversation})
        monkeypatch.setenv("WEBSOCKET_ENDPOINT", "http://127.0.0.1:9/ws")  # nothing listens there
        config.reset()
        user.post(f"/api/conversations/{conversation}", {"question_message": "What plans are there?"})
        drain()
    history = user.get(f"/api/conversations/{conversation}").json()["history"]
    assert [m["role"] for m in history] == ["user", "agent"]


def test_a_failed_turn_streams_task_failed(ws, user, drain, monkeypatch):
    monkeypatch.setenv("JOB_MAX_TRIES", "1")
    config.reset()

    class BrokenEngine:
        def answer(self, *args):
            raise worker_logic.JobError("provider_error", "The language model failed.")

    monkeypatch.setattr(worker_logic, "engine_for", lambda data_set, not_after=None: BrokenEngine())
    conversation = new_conversation(user)
    with open_socket(ws, user.token) as socket:
        call(socket, {"action": "subscribe", "conversation_id": conversation})
        user.post(f"/api/conversations/{conversation}", {"question_message": "What plans are there?"})
        drain()
        events = events_until_done(socket)
    assert [e["type"] for e in events] == ["task.started", "task.failed"]
    assert events[-1]["error"] == {"code": "provider_error", "message": "The language model failed."}


def test_a_streaming_engine_gets_the_listener_steps_come_first_and_quick_deltas_are_merged(
    ws, user, drain, monkeypatch
):
    from parley.agent.contracts import Step
    from parley.engine import Answer

    words = [f"word{i} " for i in range(100)]
    step = Step("search_products", {"query": "plans"}, 3, 1.5)

    class StreamingEngine:
        def answer(self, question, history, knowledge, listener=None):
            listener.step(step)
            for word in words:
                listener.delta(word)
            return Answer(text="".join(words), steps=[step])

    monkeypatch.setattr(worker_logic, "engine_for", lambda data_set, not_after=None: StreamingEngine())
    conversation = new_conversation(user)
    with open_socket(ws, user.token) as socket:
        call(socket, {"action": "subscribe", "conversation_id": conversation})
        user.post(f"/api/conversations/{conversation}", {"question_message": "What plans are there?"})
        drain()
        events = events_until_done(socket)
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["task.started", "step"] and kinds[-1] == "message.completed"
    assert set(kinds[2:-1]) == {"delta"} and len(kinds[2:-1]) < len(words)  # merged while a post was in flight
    assert events[1] == {
        "type": "step",
        "conversation_id": conversation,
        "task_id": events[0]["task_id"],
        "tool": "search_products",
        "arguments": {"query": "plans"},
        "result_count": 3,
    }
    assert "".join(e["text"] for e in events[2:-1]) == "".join(words) == events[-1]["message"]["text"]


def test_nobody_subscribed_costs_one_query_and_no_post(ws, user, drain, monkeypatch):
    from parley.dal import connections

    posts, queries = [], []
    monkeypatch.setattr(connections, "post_to_connection", lambda *args: posts.append(args) or True)
    real_subscribers = connections.ConnectionRepository.subscribers
    monkeypatch.setattr(
        connections.ConnectionRepository,
        "subscribers",
        lambda self, conversation_id: queries.append(conversation_id) or real_subscribers(self, conversation_id),
    )
    conversation = new_conversation(user)
    user.post(f"/api/conversations/{conversation}", {"question_message": "What plans are there?"})
    drain()
    assert queries == [conversation] and posts == []
    assert user.get(f"/api/conversations/{conversation}").json()["history"][-1]["role"] == "agent"


def test_the_client_stream_ends_by_polling_when_the_final_event_never_comes(ws, user, gateway, drain, monkeypatch):
    import threading

    import httpx
    from parley_client import client as client_module
    from parley_client.client import ParleyClient

    def through_gateway(request: httpx.Request) -> httpx.Response:
        answer = gateway.handle(
            request.method, str(request.url.raw_path, "ascii"), list(request.headers.items()), request.content
        )
        return httpx.Response(answer.status, headers=answer.headers, content=answer.body)

    monkeypatch.setattr(client_module, "STREAM_CHECK_SECONDS", 0.2)
    monkeypatch.setenv("WEBSOCKET_ENDPOINT", "http://127.0.0.1:9/ws")  # the worker's posts all fail
    config.reset()

    def worker() -> None:
        for _ in range(100):
            if drain():
                return
            time.sleep(0.05)

    subscribed = []
    real_subscribe = ParleyClient._subscribe
    monkeypatch.setattr(
        ParleyClient, "_subscribe", lambda self, *args: subscribed.append(real_subscribe(self, *args)) or subscribed[-1]
    )
    with ParleyClient(
        "http://parley.test", user.token, transport=httpx.MockTransport(through_gateway), ws_url=ws.url
    ) as client:
        background = threading.Thread(target=worker)
        background.start()
        events = list(client.stream("What plans are there?", 1, timeout=30))
        background.join()
    assert subscribed[0] is not None  # the socket was open and subscribed; no event came through it
    assert [e["type"] for e in events] == ["message.completed"]
    assert events[0]["message"]["role"] == "agent" and events[0]["message"]["text"]


def test_the_emulated_connections_api_answers_boto3_like_api_gateway(ws, user):
    import boto3
    from websockets.exceptions import ConnectionClosed

    management = boto3.client("apigatewaymanagementapi", endpoint_url=ws.management_url, region_name="us-east-1")
    with open_socket(ws, user.token) as socket:
        call(socket, {"action": "subscribe", "conversation_id": new_conversation(user)})
        (connection_id,) = ws.connections
        described = management.get_connection(ConnectionId=connection_id)
        assert (
            described["Identity"]["SourceIp"] == "127.0.0.1" and described["ConnectedAt"] <= described["LastActiveAt"]
        )
        management.post_to_connection(ConnectionId=connection_id, Data=b'{"type": "hello"}')
        assert json.loads(socket.recv(timeout=10)) == {"type": "hello"}
        with pytest.raises(management.exceptions.PayloadTooLargeException):
            management.post_to_connection(ConnectionId=connection_id, Data=b"x" * (128 * 1024 + 1))
        management.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=10)
    for _ in range(100):
        if ConnectionRepository().get(connection_id) is None:
            break
        time.sleep(0.05)
    assert ConnectionRepository().get(connection_id) is None  # $disconnect ran
    with pytest.raises(management.exceptions.GoneException):
        management.post_to_connection(ConnectionId=connection_id, Data=b"{}")
    with pytest.raises(management.exceptions.GoneException):
        management.get_connection(ConnectionId=connection_id)
