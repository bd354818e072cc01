"""A Python client for the parley API (httpx).

    from parley_client import ParleyClient

    with ParleyClient() as parley:                    # PARLEY_API_URL / PARLEY_API_TOKEN, else `make dev`
        answer = parley.ask("Does FiberUP Business Duplex include an SLA?", data_set_id=1)
        print(answer["text"], answer["sources"])

Every method returns the API's decoded JSON body, except `send_message`, `load_products` and
`load_documents`, which return the task id. An error answer raises a subclass of `ParleyError` carrying the
status and the API's `detail` (a message, or a list of field errors for 422).

This module is for clients and the CLI; Lambda handlers never import it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

__all__ = [
    "DEFAULT_URL",
    "ApiUnreachable",
    "BadRequest",
    "Forbidden",
    "NotFound",
    "ParleyClient",
    "ParleyError",
    "ServiceUnavailable",
    "TaskFailed",
    "TaskTimeout",
    "Unauthorized",
    "find_answer",
    "local_state_path",
    "read_local_state",
]

DEFAULT_URL = "http://127.0.0.1:3000"
STATE_ENV = "PARLEY_LOCAL_STATE"
_STATE_RELATIVE = Path(".parley-data") / "local.json"

FIRST_POLL_DELAY = 0.1
MAX_POLL_DELAY = 2.0
STREAM_CHECK_SECONDS = 5.0  # a stream quiet this long checks the task once (its final event may be lost)

_ACCOUNT_FIELDS = frozenset({"name", "data_set_ids", "is_active"})


# ---------------------------------------------------------------------------------------------- errors


class ParleyError(Exception):
    """An error answer from the API (or no answer at all: then `status` is None)."""

    def __init__(self, status: int | None, detail: Any):
        self.status = status
        self.detail = detail
        super().__init__(f"{status} {format_detail(detail)}" if status is not None else format_detail(detail))


class BadRequest(ParleyError):
    """400, 413, 415 or 422: the request was malformed or a field was invalid (`detail` lists the fields)."""


class Unauthorized(ParleyError):
    """401: no token, an unknown token, or a disabled account."""


class Forbidden(ParleyError):
    """403: the account may not do this (an admin-only route, or a data set without access)."""


class NotFound(ParleyError):
    """404: unknown, or not the caller's (the API never says which)."""


class ServiceUnavailable(ParleyError):
    """503: AWS could not take the request; try again after `retry_after` seconds (None when not given)."""

    def __init__(self, status: int | None, detail: Any, retry_after: float | None = None):
        super().__init__(status, detail)
        self.retry_after = retry_after


class ApiUnreachable(ParleyError):
    """The API could not be reached (connection refused, DNS, TLS, or the HTTP timeout)."""

    def __init__(self, url: str, reason: str):
        super().__init__(None, f"cannot reach {url}: {reason}")
        self.url = url


class TaskFailed(ParleyError):
    """A task finished with state FAILURE; `code` and `message` come from the task's `error`."""

    def __init__(self, task_id: str, task: Mapping[str, Any]):
        error = task.get("error") or {}
        self.task_id = task_id
        self.task = dict(task)
        self.code = str(error.get("code") or "unknown")
        self.message = str(error.get("message") or "The task failed.")
        super().__init__(None, f"task {task_id} failed ({self.code}): {self.message}")


class TaskTimeout(ParleyError):
    """A task was still PENDING when the wait ran out (it may still finish later)."""

    def __init__(self, task_id: str, timeout: float):
        self.task_id = task_id
        self.timeout = timeout
        super().__init__(None, f"task {task_id} still PENDING after {timeout:g} s")


_BY_STATUS: dict[int, type[ParleyError]] = {
    400: BadRequest,
    413: BadRequest,
    415: BadRequest,
    422: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
}


def format_detail(detail: Any) -> str:
    """A readable one-line form of an API `detail`: a message, or `loc: msg; ...` for field errors."""
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, Mapping):
                loc = ".".join(str(part) for part in item.get("loc") or ())
                msg = item.get("msg", "invalid")
                parts.append(f"{loc}: {msg}" if loc else str(msg))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)


def _error_for(response: httpx.Response) -> ParleyError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping) and ("detail" in body or "message" in body):
        # `detail` from our handlers; API Gateway's own answers (no route, authorizer denial) use `message`.
        detail = body.get("detail", body.get("message"))
    else:
        detail = response.text.strip() or response.reason_phrase
    status = response.status_code
    if status == 503:
        retry_after = None
        raw = response.headers.get("retry-after")
        if raw:
            try:
                retry_after = float(raw)
            except ValueError:
                retry_after = None
        return ServiceUnavailable(status, detail, retry_after)
    return _BY_STATUS.get(status, ParleyError)(status, detail)


# ---------------------------------------------------------------------------------- local stack state


def local_state_path() -> Path | None:
    """Where `make dev` recorded the running local stack: $PARLEY_LOCAL_STATE, else `.parley-data/local.json`
    in the current directory or one of its parents (the repo checkout when run from inside it). None when there
    is none. The client is installed apart from the repo, so it never guesses the checkout from its own path."""
    explicit = os.environ.get(STATE_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        return path if path.is_file() else None
    cwd = Path.cwd()
    for folder in (cwd, *cwd.parents):
        candidate = folder / _STATE_RELATIVE
        if candidate.is_file():
            return candidate
    return None


def read_local_state() -> dict[str, Any] | None:
    """The local stack's state (api_url, token, aws_endpoint_url, environment), or None."""
    path = local_state_path()
    if path is None:
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _same_url(a: str | None, b: str | None) -> bool:
    return bool(a and b) and str(a).rstrip("/") == str(b).rstrip("/")


# ---------------------------------------------------------------------------------------------- helpers


def _path_part(value: Any) -> str:
    return quote(str(value), safe="")


def _as_dict(item: Any) -> dict[str, Any]:
    """Items for loads may be dicts or pydantic models (the API's Product / Document)."""
    dump = getattr(item, "model_dump", None)
    return dump() if callable(dump) else dict(item)


def _socket_errors() -> type[Exception]:
    """The `websockets` library's error base class (imported only when streaming is used)."""
    from websockets.exceptions import WebSocketException

    return WebSocketException


def _error_for_event(event: Mapping[str, Any]) -> ParleyError:
    """A streaming error event (a refused subscription) as the client's error for the same HTTP status."""
    error = event.get("error") or {}
    status = 404 if error.get("code") == "not_found" else 400
    return _BY_STATUS.get(status, ParleyError)(status, error.get("message") or "the subscription was refused")


def find_answer(
    history: list[Mapping[str, Any]], question: str, question_id: int | None = None
) -> dict[str, Any] | None:
    """The reply to a question in a conversation's history: the message whose id is the question's id + 1,
    else the first agent or system message after the question. The question is `question_id` when given,
    else the latest user message with exactly this text."""
    position = None
    for index, message in enumerate(history):
        if message.get("role") != "user":
            continue
        if (question_id is not None and message.get("id") == question_id) or (
            question_id is None and message.get("text") == question
        ):
            position = index
    if position is None:
        return None
    asked = history[position]
    for message in history[position + 1 :]:
        if isinstance(asked.get("id"), int) and message.get("id") == asked["id"] + 1:
            return dict(message)
    for message in history[position + 1 :]:
        if message.get("role") in ("agent", "system"):
            return dict(message)
    return None


# ----------------------------------------------------------------------------------------------- client


class ParleyClient:
    """The parley API over HTTP. Use it as a context manager, or call `close()` when done.

    `base_url` defaults to $PARLEY_API_URL, else the running local stack's URL (`make dev`), else
    http://127.0.0.1:3000; `token` defaults to $PARLEY_API_TOKEN, else the local stack's dev token (only when
    talking to that local stack). `transport` is passed to httpx (tests, proxies); `sleep` and `clock` are what
    `wait_for_task` waits and measures time with.
    """

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        ws_url: str | None = None,
    ):
        state = None
        if base_url is None:
            base_url = os.environ.get("PARLEY_API_URL") or None
        if base_url is None or token is None or ws_url is None:
            state = read_local_state()
        if base_url is None:
            base_url = (state or {}).get("api_url") or DEFAULT_URL
        if ws_url is None:
            ws_url = os.environ.get("PARLEY_WS_URL") or None
        if ws_url is None and state and _same_url(state.get("api_url"), base_url):
            ws_url = state.get("ws_url") or None
        self.ws_url = ws_url  # the streaming (WebSocket) API; None: questions are followed by polling
        if token is None:
            token = os.environ.get("PARLEY_API_TOKEN") or None
        if token is None and state and _same_url(state.get("api_url"), base_url):
            token = state.get("token") or None  # the dev token never goes to any other server
        self.base_url = str(base_url).rstrip("/")
        self.token = token
        self._sleep = sleep
        self._clock = clock
        headers = {"Accept": "application/json", "User-Agent": "parley-client"}
        if token:
            headers["Authorization"] = f"Token {token}"
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport, headers=headers)

    # -- lifecycle

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ParleyClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ParleyClient({self.base_url!r})"

    # -- transport

    def request(self, method: str, path: str, body: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        """Send one request and return the decoded JSON body; raise a `ParleyError` for an error status."""
        headers = {}
        content = None
        if body is not None:
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path, content=content, params=query or None, headers=headers)
        except httpx.TransportError as exc:
            raise ApiUnreachable(self.base_url, str(exc) or type(exc).__name__) from exc
        if response.status_code >= 400:
            raise _error_for(response)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ParleyError(response.status_code, "the API answered with a body that is not JSON") from None

    # -- conversations

    def create_conversation(self, data_set_id: int) -> dict[str, Any]:
        return self.request("POST", "/api/conversations", {"data_set_id": data_set_id})

    def send_message(self, conversation_id: int, question: str, data_set_id: int | None = None) -> str:
        body: dict[str, Any] = {"question_message": question}
        if data_set_id is not None:
            body["data_set_id"] = data_set_id
        return self.request("POST", f"/api/conversations/{_path_part(conversation_id)}", body)["task_id"]

    def get_conversation(self, conversation_id: int) -> dict[str, Any]:
        return self.request("GET", f"/api/conversations/{_path_part(conversation_id)}")

    def list_conversations(
        self, limit: int | None = None, cursor: str | None = None, data_set_id: int | None = None
    ) -> dict[str, Any]:
        """One page, newest first: {"results": [...], "next_cursor": ... or None}."""
        return self.request(
            "GET", "/api/conversations", params={"limit": limit, "cursor": cursor, "data_set_id": data_set_id}
        )

    # -- tasks

    def task_status(self, task_id: str) -> dict[str, Any]:
        return self.request("GET", f"/api/task_status/{_path_part(task_id)}")

    def wait_for_task(self, task_id: str, timeout: float | None = 60.0) -> dict[str, Any]:
        """Poll until the task is no longer PENDING, sleeping 0.1 s, 0.2 s, 0.4 s ... up to 2 s between polls.

        Returns the final status on SUCCESS; raises `TaskFailed` on FAILURE and `TaskTimeout` when `timeout`
        seconds pass first (None waits for as long as it takes)."""
        deadline = None if timeout is None else self._clock() + timeout
        delay = FIRST_POLL_DELAY
        while True:
            status = self.task_status(task_id)
            state = status.get("state")
            if state == "SUCCESS":
                return status
            if state == "FAILURE":
                raise TaskFailed(task_id, status)
            if deadline is not None:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise TaskTimeout(task_id, timeout)
                self._sleep(min(delay, remaining))
            else:
                self._sleep(delay)
            delay = min(delay * 2, MAX_POLL_DELAY)

    # -- asking

    def ask_raw(
        self, question: str, data_set_id: int | None, conversation_id: int | None = None, timeout: float | None = 60.0
    ) -> dict[str, Any]:
        """`ask`, returning every step's response: {"conversation_id", "created" (the new conversation, or
        None), "task_id", "task" (the final status), "conversation" (with its history), "answer"}."""
        created = None
        if conversation_id is None:
            if data_set_id is None:
                raise ValueError("give a data_set_id to start a conversation, or a conversation_id")
            created = self.create_conversation(data_set_id)
            conversation_id = created["id"]
        task_id = self.send_message(conversation_id, question, data_set_id)
        task = self.wait_for_task(task_id, timeout=timeout)
        conversation = self.get_conversation(conversation_id)
        answer = find_answer(conversation.get("history") or [], question, task.get("message_id"))
        if answer is None:
            raise ParleyError(None, f"task {task_id} succeeded but its answer is not in conversation {conversation_id}")
        answer["conversation_id"] = conversation_id
        answer["task_id"] = task_id
        return {
            "conversation_id": conversation_id,
            "created": created,
            "task_id": task_id,
            "task": task,
            "conversation": conversation,
            "answer": answer,
        }

    def stream(
        self, question: str, data_set_id: int | None, conversation_id: int | None = None, timeout: float | None = 60.0
    ) -> Iterator[dict[str, Any]]:
        """Ask a question and yield the turn's events as the WebSocket API streams them (docs/streaming.md):
        task.started, step ..., delta ..., then message.completed (its `message` is the stored answer) or
        task.failed, which ends the stream. Starts a conversation on `data_set_id` unless `conversation_id`
        is given. When the socket cannot be opened, or breaks, the answer is polled for instead and the
        stream ends with the same final event. Raises `TaskTimeout` after `timeout` seconds."""
        if conversation_id is None:
            if data_set_id is None:
                raise ValueError("give a data_set_id to start a conversation, or a conversation_id")
            conversation_id = self.create_conversation(data_set_id)["id"]
        deadline = None if timeout is None else self._clock() + timeout
        with ExitStack() as cleanup:
            socket = self._subscribe(conversation_id, cleanup)
            task_id = self.send_message(conversation_id, question, data_set_id)
            if socket is not None:
                try:
                    while True:
                        wait = None if deadline is None else deadline - self._clock()
                        if wait is not None and wait <= 0:
                            raise TaskTimeout(task_id, timeout)
                        try:
                            raw = socket.recv(
                                timeout=STREAM_CHECK_SECONDS if wait is None else min(wait, STREAM_CHECK_SECONDS)
                            )
                        except TimeoutError:
                            # Quiet for a while: make sure the task has not finished unseen (a final event
                            # lost with a broken connection); if it has, fetch the result by polling.
                            if self.task_status(task_id).get("state") != "PENDING":
                                break
                            continue
                        event = json.loads(raw)
                        if event.get("task_id") != task_id:
                            continue  # an earlier turn of this conversation, or a reply to the subscription
                        yield event
                        if event.get("type") in ("message.completed", "task.failed"):
                            return
                except (OSError, ValueError, _socket_errors()):
                    pass  # the stream broke: the answer is still stored, so fall back to polling for it
        yield self._final_event(conversation_id, task_id, question, deadline, timeout)

    def _subscribe(self, conversation_id: int, cleanup: ExitStack) -> Any:
        """A WebSocket subscribed to the conversation (closed by `cleanup`), or None when streaming is not
        available."""
        if not self.ws_url:
            return None
        try:
            from websockets.sync.client import connect
        except ImportError:  # the optional `websockets` package is not installed: poll instead
            return None
        headers = {"Authorization": f"Token {self.token}"} if self.token else {}
        try:
            socket = cleanup.enter_context(
                connect(self.ws_url, additional_headers=headers, open_timeout=5, user_agent_header="parley-client")
            )
            socket.send(json.dumps({"action": "subscribe", "conversation_id": conversation_id}))
            reply = json.loads(socket.recv(timeout=5))
        except (OSError, ValueError, _socket_errors()):
            return None
        if reply.get("type") == "error":
            raise _error_for_event(reply)
        return socket if reply.get("type") == "subscribed" else None

    def _final_event(
        self, conversation_id: int, task_id: str, question: str, deadline: float | None, timeout: float | None
    ) -> dict[str, Any]:
        """The event a stream would have ended with, from polling: message.completed or task.failed."""
        remaining = None if deadline is None else max(0.0, deadline - self._clock())
        event: dict[str, Any] = {"conversation_id": conversation_id, "task_id": task_id}
        try:
            task = self.wait_for_task(task_id, timeout=remaining)
        except TaskFailed as failed:
            return {**event, "type": "task.failed", "error": failed.task.get("error") or {}}
        except TaskTimeout:
            raise TaskTimeout(task_id, timeout) from None
        history = self.get_conversation(conversation_id).get("history") or []
        answer = find_answer(history, question, task.get("message_id"))
        if answer is None:
            raise ParleyError(None, f"task {task_id} succeeded but its answer is not in conversation {conversation_id}")
        return {**event, "type": "message.completed", "message": answer}

    def ask(
        self, question: str, data_set_id: int | None, conversation_id: int | None = None, timeout: float | None = 60.0
    ) -> dict[str, Any]:
        """Ask a question and wait for the answer: starts a conversation on `data_set_id` unless
        `conversation_id` is given. Returns the agent's message (id, text, role, created_at, sources) with
        "conversation_id" (and "task_id") added."""
        return self.ask_raw(question, data_set_id, conversation_id, timeout)["answer"]

    # -- data sets

    def list_data_sets(self) -> dict[str, Any]:
        return self.request("GET", "/api/data_sets")

    def get_data_set(self, data_set_id: int) -> dict[str, Any]:
        return self.request("GET", f"/api/data_sets/{_path_part(data_set_id)}")

    def create_data_set(self, name: str) -> dict[str, Any]:
        return self.request("POST", "/api/data_sets", {"name": name})

    def update_data_set_settings(self, data_set_id: int, settings: dict[str, Any]) -> dict[str, Any]:
        """Replace a data set's answer settings (admin): provider, model, system_prompt, temperature, ..."""
        return self.request("PATCH", f"/api/data_sets/{_path_part(data_set_id)}/settings", settings)

    def load_products(self, data_set_id: int, products: Iterable[Any]) -> str:
        body = {"products": [_as_dict(p) for p in products]}
        return self.request("POST", f"/api/data_sets/{_path_part(data_set_id)}/products", body)["task_id"]

    def load_documents(self, data_set_id: int, documents: Iterable[Any]) -> str:
        body = {"documents": [_as_dict(d) for d in documents]}
        return self.request("POST", f"/api/data_sets/{_path_part(data_set_id)}/documents", body)["task_id"]

    # -- service accounts (admin accounts only)

    def create_service_account(
        self, name: str, data_set_ids: Iterable[int] = (), is_admin: bool = False
    ) -> dict[str, Any]:
        """The new account, with its token (shown this once)."""
        return self.request(
            "POST", "/api/service_accounts", {"name": name, "data_set_ids": list(data_set_ids), "is_admin": is_admin}
        )

    def list_service_accounts(self, limit: int | None = None, cursor: str | int | None = None) -> dict[str, Any]:
        return self.request("GET", "/api/service_accounts", params={"limit": limit, "cursor": cursor})

    def update_service_account(self, account_id: int, **changes: Any) -> dict[str, Any]:
        """Change `name`, `data_set_ids` and/or `is_active`."""
        unknown = set(changes) - _ACCOUNT_FIELDS
        if unknown:
            raise TypeError(f"unknown service account field(s): {', '.join(sorted(unknown))}")
        if "data_set_ids" in changes:
            changes["data_set_ids"] = list(changes["data_set_ids"])
        return self.request("PATCH", f"/api/service_accounts/{_path_part(account_id)}", changes)

    def reset_service_account_token(self, account_id: int) -> dict[str, Any]:
        """The account with a new token; the old token stops working (after the authorizer cache TTL)."""
        return self.request("POST", f"/api/service_accounts/{_path_part(account_id)}/reset_token")
