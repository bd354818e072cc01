"""Streaming answers over the WebSocket API: connections, subscriptions, and the worker's event publisher.

A client connects with its token, subscribes to conversations it owns, and receives each turn's events:
task.started, step (one per tool call), delta (answer text), then message.completed or task.failed.
Publishing is best effort: it never raises into the worker, so an answer streamed to nobody or to a broken
connection is stored exactly as without streaming.
"""

from __future__ import annotations

import contextvars
import json
import threading
from collections.abc import Mapping
from typing import Any

from parley.auth import Principal
from parley.config import settings
from parley.dal.connections import ConnectionRepository
from parley.log import logger
from parley.logic.accounts import authenticate

ACTIONS = ("subscribe", "unsubscribe")


def authenticate_connection(headers: Mapping[str, Any] | None, query: Mapping[str, Any] | None) -> Principal | None:
    """The caller of a $connect: the `token` query parameter (browsers cannot set headers on a WebSocket),
    else the `Authorization: Token ...` header. Checked exactly as the HTTP API's authorizer checks it."""
    token = (query or {}).get("token")
    if token:
        return authenticate(f"Token {token}")
    authorization = next((v for k, v in (headers or {}).items() if k.lower() == "authorization"), None)
    return authenticate(authorization)


def connect(connection_id: str, caller: Principal) -> None:
    ConnectionRepository().add(connection_id, caller.account_id)


def disconnect(connection_id: str) -> None:
    ConnectionRepository().remove(connection_id)


def _error(code: str, message: str, conversation_id: Any = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "error", "error": {"code": code, "message": message}}
    if conversation_id is not None:
        event["conversation_id"] = conversation_id
    return event


def handle_message(connection_id: str, body: str | None) -> dict[str, Any]:
    """A client message -> the event sent back: `subscribed`, `unsubscribed`, or `error` naming the problem."""
    try:
        message = json.loads(body or "")
    except ValueError:
        return _error("bad_message", "messages must be JSON objects")
    if not isinstance(message, dict):
        return _error("bad_message", "messages must be JSON objects")
    action = message.get("action")
    if action not in ACTIONS:
        return _error("bad_message", "action must be one of: " + ", ".join(ACTIONS))
    conversation_id = message.get("conversation_id")
    if isinstance(conversation_id, bool) or not isinstance(conversation_id, int) or not 0 < conversation_id < 2**53:
        return _error("bad_message", "conversation_id must be a positive integer")
    connections = ConnectionRepository()
    connection = connections.get(connection_id)
    if connection is None:
        return _error("not_connected", "this connection is not registered; connect again")
    if action == "unsubscribe":
        connections.unsubscribe(connection_id, conversation_id)
        return {"type": "unsubscribed", "conversation_id": conversation_id}
    from parley.dal.conversations import ConversationRepository

    meta = ConversationRepository().get_meta(conversation_id)
    if meta is None or meta.get("owner_id") != connection["account_id"] or meta.get("deleting"):
        # Another account's conversation answers exactly like a missing one, as on the HTTP API.
        return _error("not_found", "conversation not found", conversation_id)
    if not connections.subscribe(connection_id, conversation_id, connection["account_id"], connection["expires_at"]):
        return _error(
            "too_many_subscriptions",
            "a connection may follow at most 20 conversations; unsubscribe from one first",
            conversation_id,
        )
    return {"type": "subscribed", "conversation_id": conversation_id}


class AnswerStream:
    """One turn's events, sent to every connection of the conversation's owner subscribed to it.

    Implements AnswerListener (`step`, `delta`). Costs one Query when nobody is subscribed, and no post.
    Events are posted by a sender thread, in order, so a slow post never holds up the answer; deltas that
    arrive while a post is in flight, or within DELTA_INTERVAL_SECONDS of the last delta, go out as one
    (a model's token-by-token stream becomes a few messages, each billed by API Gateway). Use it as a
    context manager: leaving it sends what is left (waiting at most FLUSH_TIMEOUT_SECONDS)."""

    DELTA_INTERVAL_SECONDS = 0.1
    FLUSH_TIMEOUT_SECONDS = 10.0

    def __init__(self, conversation_id: int, task_id: str, owner_id: int):
        self.conversation_id = conversation_id
        self.task_id = task_id
        self.targets: list[str] = []
        self._queue: list[dict[str, Any]] = []
        self._wake = threading.Condition()
        self._closed = False
        self._sender: threading.Thread | None = None
        config = settings()
        if not (config.websocket_endpoint and config.connections_table):
            return
        try:
            subscribers = ConnectionRepository().subscribers(conversation_id)
        except Exception:
            logger.warning("could not read the conversation's subscribers", exc_info=True)
            return
        self.targets = [s["connection_id"] for s in subscribers if s.get("account_id") == owner_id]

    def __enter__(self) -> AnswerStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def started(self) -> None:
        self._enqueue("task.started", {})

    def step(self, step: Any) -> None:
        self._enqueue("step", {"tool": step.tool, "arguments": step.arguments, "result_count": step.result_count})

    def delta(self, text: str) -> None:
        if text:
            self._enqueue("delta", {"text": text})

    def completed(self, message: dict[str, Any]) -> None:
        self._enqueue("message.completed", {"message": message})

    def failed(self, code: str, message: str) -> None:
        self._enqueue("task.failed", {"error": {"code": code, "message": message}})

    def close(self) -> None:
        """Send what is queued, then stop the sender."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        if self._sender is not None:
            self._sender.join(self.FLUSH_TIMEOUT_SECONDS)

    def _enqueue(self, kind: str, fields: dict[str, Any]) -> None:
        if not self.targets:
            return
        with self._wake:
            last = self._queue[-1] if self._queue else None
            if kind == "delta" and last is not None and last["type"] == "delta":
                last["text"] += fields["text"]
            else:
                self._queue.append(
                    {"type": kind, "conversation_id": self.conversation_id, "task_id": self.task_id, **fields}
                )
            self._wake.notify()
            if self._sender is None:
                # The sender runs in a copy of the invocation's context variables: its posts and clean-up are
                # made on the invocation's behalf (the local IAM emulation attributes calls to a function so).
                self._sender = threading.Thread(
                    target=contextvars.copy_context().run, args=(self._send_all,), name="answer-stream", daemon=True
                )
                self._sender.start()

    def _send_all(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._queue or self._closed)
                if not self._queue:
                    return
                event = self._queue.pop(0)
            self._publish(json.dumps(event, default=str).encode())
            if event["type"] == "delta":  # let the next deltas gather for a moment
                with self._wake:
                    self._wake.wait_for(lambda: self._closed, timeout=self.DELTA_INTERVAL_SECONDS)

    def _publish(self, data: bytes) -> None:
        from parley.dal.connections import post_to_connection

        for connection_id in list(self.targets):
            try:
                delivered = post_to_connection(connection_id, data)
            except Exception:  # a broken endpoint must never cost the answer: stop sending to it this turn
                logger.warning(
                    "could not stream to a connection", exc_info=True, extra={"connection_id": connection_id}
                )
                self.targets.remove(connection_id)
                continue
            if not delivered:  # gone (410): the client left without $disconnect reaching us
                self.targets.remove(connection_id)
                try:
                    ConnectionRepository().remove(connection_id)
                except Exception:
                    logger.warning("could not remove a gone connection", exc_info=True)
