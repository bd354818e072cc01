"""Streaming over the local stack's WebSocket API (as `make dev` serves it), with a real WebSocket client."""

from __future__ import annotations

import json
import socket as sockets
import time

import httpx
import pytest
from parley_client import cli
from parley_client.client import ParleyClient
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.unit.test_streaming import check_turn

SLA_QUESTION = "Does FiberUP Business Duplex include an SLA?"
BOOKS = [
    {
        "sku": "BK-ODYSSEY",
        "name": "The Odyssey, clothbound",
        "description": "Homer's epic in a verse translation.",
        "properties": {"pages": 560, "binding": "Clothbound"},
        "categories": ["Classics"],
        "price": 24.0,
    },
    {
        "sku": "BK-ATLAS",
        "name": "World Atlas of Rivers",
        "description": "Maps of the great rivers of every continent.",
        "properties": {"pages": 320, "binding": "Hardcover"},
        "categories": ["Reference"],
        "price": 39.5,
    },
]


def ws_url(stack) -> str:
    return json.loads(stack.state_path.read_text())["ws_url"]


def open_socket(stack, token: str | None = None):
    return connect(f"{ws_url(stack)}?token={token or stack.token}", open_timeout=20)


def call(socket, message: dict) -> dict:
    socket.send(json.dumps(message))
    return json.loads(socket.recv(timeout=20))


def turn(socket) -> list[dict]:
    events = []
    while not events or events[-1]["type"] not in ("message.completed", "task.failed"):
        events.append(json.loads(socket.recv(timeout=60)))
    return events


def poll(http: httpx.Client, task_id: str) -> dict:
    for _ in range(600):
        status = http.get(f"/api/task_status/{task_id}").json()
        if status["state"] != "PENDING":
            return status
        time.sleep(0.1)
    raise AssertionError("task still pending")


def new_account(stack, name: str) -> str:
    with stack.client() as admin:
        return admin.post("/api/service_accounts", json={"name": name, "data_set_ids": [1]}).json()["token"]


def test_the_banner_names_the_websocket_url(local_stack):
    assert f"streaming: {ws_url(local_stack)}" in local_stack.log_path.read_text()
    assert ws_url(local_stack).startswith("ws://127.0.0.1:")


def test_events_arrive_in_order_and_completed_is_the_stored_message(local_stack):
    with local_stack.client() as http, open_socket(local_stack) as socket:
        conversation = http.post("/api/conversations", json={"data_set_id": 1}).json()["id"]
        assert call(socket, {"action": "subscribe", "conversation_id": conversation})["type"] == "subscribed"
        for question in (SLA_QUESTION, "How much does it cost?"):
            task = http.post(f"/api/conversations/{conversation}", json={"question_message": question}).json()[
                "task_id"
            ]
            events = turn(socket)
            assert poll(http, task)["state"] == "SUCCESS"
            check_turn(events, http.get(f"/api/conversations/{conversation}").json()["history"][-1], conversation, task)
        assert "FiberUP Business Duplex" in turn_text(http, conversation, 1)


def turn_text(http, conversation: int, index: int) -> str:
    return http.get(f"/api/conversations/{conversation}").json()["history"][index]["text"]


def test_streaming_on_a_second_catalog_of_another_domain(local_stack):
    with local_stack.client() as http:
        data_set = http.post("/api/data_sets", json={"name": "bookshop"}).json()["id"]
        poll(http, http.post(f"/api/data_sets/{data_set}/products", json={"products": BOOKS}).json()["task_id"])
        conversation = http.post("/api/conversations", json={"data_set_id": data_set}).json()["id"]
        with open_socket(local_stack) as socket:
            call(socket, {"action": "subscribe", "conversation_id": conversation})
            http.post(f"/api/conversations/{conversation}", json={"question_message": "How many pages has the atlas?"})
            events = turn(socket)
        stored = http.get(f"/api/conversations/{conversation}").json()["history"][-1]
    assert events[-1]["type"] == "message.completed" and events[-1]["message"] == stored
    assert "320" in stored["text"] and stored["sources"][0]["id"] == "BK-ATLAS"


def test_bad_tokens_are_refused(local_stack):
    for token in ("prl_1_" + "x" * 43, "not-a-token"):
        with pytest.raises(InvalidStatus) as refused:
            open_socket(local_stack, token)
        assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as missing:
        connect(ws_url(local_stack), open_timeout=20)
    assert missing.value.response.status_code == 403


def test_accounts_are_isolated(local_stack):
    other_token = new_account(local_stack, "streaming-other")
    with (
        local_stack.client() as http,
        local_stack.client(other_token) as other_http,
        open_socket(local_stack) as mine,
        open_socket(local_stack, other_token) as theirs,
    ):
        conversation = http.post("/api/conversations", json={"data_set_id": 1}).json()["id"]
        refused = call(theirs, {"action": "subscribe", "conversation_id": conversation})
        assert refused["type"] == "error" and refused["error"]["code"] == "not_found"
        call(mine, {"action": "subscribe", "conversation_id": conversation})
        http.post(f"/api/conversations/{conversation}", json={"question_message": SLA_QUESTION})
        assert turn(mine)[-1]["type"] == "message.completed"
        # Anything streamed to the other account would arrive before the reply to its next message.
        own = other_http.post("/api/conversations", json={"data_set_id": 1}).json()["id"]
        assert call(theirs, {"action": "subscribe", "conversation_id": own}) == {
            "type": "subscribed",
            "conversation_id": own,
        }


def test_two_subscribers_get_the_same_events(local_stack):
    with local_stack.client() as http, open_socket(local_stack) as first, open_socket(local_stack) as second:
        conversation = http.post("/api/conversations", json={"data_set_id": 1}).json()["id"]
        for socket in (first, second):
            call(socket, {"action": "subscribe", "conversation_id": conversation})
        http.post(f"/api/conversations/{conversation}", json={"question_message": SLA_QUESTION})
        one, two = turn(first), turn(second)
        stored = http.get(f"/api/conversations/{conversation}").json()["history"][-1]
    assert one == two
    check_turn(one, stored, conversation, one[0]["task_id"])


def test_a_connection_dropped_mid_answer_still_gets_the_answer_stored_and_polled(local_stack):
    with local_stack.client() as http:
        conversation = http.post("/api/conversations", json={"data_set_id": 1}).json()["id"]
        with open_socket(local_stack) as socket:
            call(socket, {"action": "subscribe", "conversation_id": conversation})
            task = http.post(f"/api/conversations/{conversation}", json={"question_message": SLA_QUESTION}).json()[
                "task_id"
            ]
            assert json.loads(socket.recv(timeout=60))["type"] == "task.started"
            socket.socket.shutdown(sockets.SHUT_RDWR)  # the network goes away: no close handshake
        assert poll(http, task)["state"] == "SUCCESS"
        history = http.get(f"/api/conversations/{conversation}").json()["history"]
        assert [m["role"] for m in history] == ["user", "agent"] and "sla" in history[-1]["text"].lower()
        # and the next turn, streamed to nobody, is stored the same way
        task = http.post(
            f"/api/conversations/{conversation}", json={"question_message": "Is there a setup fee?"}
        ).json()["task_id"]
        assert poll(http, task)["state"] == "SUCCESS"
        assert len(http.get(f"/api/conversations/{conversation}").json()["history"]) == 4


def test_the_client_streams_and_falls_back_to_polling_when_the_socket_fails(local_stack):
    with ParleyClient(local_stack.url, local_stack.token, ws_url=ws_url(local_stack)) as client:
        events = list(client.stream(SLA_QUESTION, 1))
        conversation, task = events[0]["conversation_id"], events[0]["task_id"]
        check_turn(events, client.get_conversation(conversation)["history"][-1], conversation, task)
        assert events[-1]["message"]["text"].startswith("Yes")
    closed_port = local_stack.url.rsplit(":", 1)[1]
    with ParleyClient(local_stack.url, local_stack.token, ws_url=f"ws://127.0.0.1:{closed_port}/nowhere") as client:
        polled = list(client.stream(SLA_QUESTION, 1))
    assert [e["type"] for e in polled] == ["message.completed"]
    assert polled[-1]["message"]["text"] == events[-1]["message"]["text"]


def test_parley_ask_prints_the_streamed_answer_and_no_stream_polls(local_stack, monkeypatch, capsys):
    monkeypatch.setenv("PARLEY_API_URL", local_stack.url)
    monkeypatch.setenv("PARLEY_API_TOKEN", local_stack.token)
    monkeypatch.setenv("PARLEY_WS_URL", ws_url(local_stack))
    outputs = []
    for extra in ([], ["--no-stream"]):
        assert cli.main(["ask", SLA_QUESTION, "--data-set", "1", *extra]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    assert outputs[0].startswith("Yes") and "sources:" in outputs[0]


def test_parley_chat_streams_each_answer_into_one_conversation(local_stack, monkeypatch, capsys):
    import io

    monkeypatch.setenv("PARLEY_API_URL", local_stack.url)
    monkeypatch.setenv("PARLEY_API_TOKEN", local_stack.token)
    monkeypatch.setenv("PARLEY_WS_URL", ws_url(local_stack))
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{SLA_QUESTION}\nHow is roaming charged?\n"))
    streamed = []
    real_stream = ParleyClient.stream
    monkeypatch.setattr(
        ParleyClient,
        "stream",
        lambda self, *a, **kw: (streamed.append(event) or event for event in real_stream(self, *a, **kw)),
    )
    assert cli.main(["chat", "--data-set", "1"]) == 0
    out = capsys.readouterr().out
    answers = [line.split("agent> ", 1)[1] for line in out.splitlines() if "agent> " in line]
    assert len(answers) == 2 and answers[0].startswith("Yes")
    finals = [i for i, e in enumerate(streamed) if e["type"] == "message.completed"]
    assert len(finals) == 2 and finals[-1] == len(streamed) - 1 and streamed[0]["type"] == "task.started"
    assert len({e["conversation_id"] for e in streamed}) == 1
    assert streamed[-1]["message"]["text"].startswith(answers[1])
