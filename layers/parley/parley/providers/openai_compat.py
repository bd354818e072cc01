"""OpenAI-compatible Chat Completions (`POST {base_url}/chat/completions`): OpenAI, Azure OpenAI's v1 API,
Ollama, vLLM, LM Studio and other servers that speak the same protocol.

The key is sent only in the Authorization header and never logged; logs name the server's host and the
model. Redirects are not followed, so the key cannot be forwarded to another host.

Tools are offered as `tools` (type function, the JSON Schema as parameters) with `tool_choice: "auto"`; the
assistant's `tool_calls` come back as tool calls, and each result goes back as a `role: "tool"` message with
the call's `tool_call_id`. With a listener the request asks for `stream: true` and text deltas are passed on
as the chunks arrive.
"""

from __future__ import annotations

import email.utils
import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from parley import egress
from parley.agent.contracts import Tool
from parley.agent.model_loop import ModelReply, ToolCall, decoded_arguments
from parley.providers import secrets
from parley.providers.base import ERROR, THROTTLED, TIMEOUT, ProviderError, call_with_retries

DEFAULT_MAX_TOKENS = 1024
CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 15.0

_client: Any = None
_lock = threading.Lock()


def default_client() -> Any:
    global _client
    with _lock:
        if _client is None:
            import httpx  # only workers answering with an OpenAI-compatible server load it

            _client = httpx.Client(follow_redirects=False)
        return _client


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) as seconds from now."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def map_status(status: int, retry_after: str | None) -> ProviderError:
    if status == 429:
        return ProviderError(THROTTLED, "HTTP 429", retryable=True, retry_after=retry_after_seconds(retry_after))
    if status == 408:
        return ProviderError(TIMEOUT, "HTTP 408", retryable=True)
    if status >= 500:
        return ProviderError(ERROR, f"HTTP {status}", retryable=True, retry_after=retry_after_seconds(retry_after))
    if status in (401, 403):
        return ProviderError(ERROR, f"HTTP {status}: the server refused the API key")
    if status == 404:
        return ProviderError(ERROR, "HTTP 404: check the base_url and the model name")
    return ProviderError(ERROR, f"HTTP {status}")


class OpenAICompatibleProvider:
    def __init__(
        self,
        settings: dict[str, Any],
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = READ_TIMEOUT_SECONDS,
    ):
        self.model = settings["model"]
        self.base_url = settings["base_url"].rstrip("/")
        self.api_key_secret = settings["api_key_secret"]
        self.temperature = settings.get("temperature")
        self.max_tokens = settings.get("max_tokens") or DEFAULT_MAX_TOKENS
        self._client = client
        self.sleep = sleep
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout

    def body(
        self, system: str, messages: list[dict[str, Any]], tools: Sequence[Tool] | None, stream: bool
    ) -> dict[str, Any]:
        sent: list[dict[str, Any]] = [{"role": "system", "content": system}]
        for message in messages:
            if message["role"] == "tool":
                sent += [
                    {
                        "role": "tool",
                        "tool_call_id": outcome.call.id,
                        "content": json.dumps(outcome.content, ensure_ascii=False, default=str),
                    }
                    for outcome in message["results"]
                ]
            elif message.get("calls"):
                sent.append(
                    {
                        "role": "assistant",
                        "content": message.get("text") or None,
                        "tool_calls": [
                            {
                                "id": call.id,
                                "type": "function",
                                "function": {
                                    "name": call.name,
                                    "arguments": call.arguments
                                    if isinstance(call.arguments, str)
                                    else json.dumps(call.arguments, ensure_ascii=False),
                                },
                            }
                            for call in message["calls"]
                        ],
                    }
                )
            else:
                sent.append({"role": message["role"], "content": message["text"]})
        body: dict[str, Any] = {"model": self.model, "messages": sent, "max_tokens": self.max_tokens}
        if self.temperature is not None:
            body["temperature"] = float(self.temperature)
        if tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {"name": tool.name, "description": tool.description, "parameters": tool.input_schema},
                }
                for tool in tools
            ]
            body["tool_choice"] = "auto"
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def reply(
        self,
        system: str,
        messages: list[dict[str, Any]],
        tools: Sequence[Tool] | None,
        deadline: float,
        on_text: Callable[[str], None] | None = None,
    ) -> ModelReply:
        import httpx

        client = self._client or default_client()
        headers = {"Authorization": f"Bearer {secrets.api_key(self.api_key_secret)}"}
        url = f"{self.base_url}/chat/completions"
        body = self.body(system, messages, tools, stream=on_text is not None)
        what = {"provider": "openai", "host": urlsplit(self.base_url).hostname, "model": self.model}
        streamed: list[bool] = []  # a retry after text went out would repeat it to the listener

        def attempt(seconds_left: float) -> ModelReply:
            read = min(self.read_timeout, seconds_left)
            timeout = httpx.Timeout(read, connect=min(self.connect_timeout, read))
            try:
                target = egress.connect_target(url)  # checked again now: the settings may predate the policy
            except egress.EgressRefused as refused:
                raise ProviderError(ERROR, f"the base_url is not allowed: {refused}") from None
            except OSError as exc:
                raise ProviderError(ERROR, str(exc), retryable=True) from None
            try:
                with client.stream(
                    "POST",
                    target.url,
                    json=body,
                    headers={**headers, **target.headers},
                    extensions=target.extensions,
                    timeout=timeout,
                ) as response:
                    if response.status_code >= 300:  # redirects are not followed (they would carry the key)
                        raise map_status(response.status_code, response.headers.get("retry-after"))
                    if on_text is None:
                        return parse_completion(response.read())
                    return read_chunks(response.iter_lines(), on_text, streamed)
            except httpx.TimeoutException as exc:
                raise ProviderError(TIMEOUT, type(exc).__name__, retryable=not streamed) from None
            except httpx.HTTPError as exc:
                raise ProviderError(
                    ERROR, f"the server could not be reached ({type(exc).__name__})", retryable=not streamed
                ) from None

        return call_with_retries(attempt, deadline, sleep=self.sleep, what=what)


def parse_completion(data: bytes) -> ModelReply:
    try:
        reply = json.loads(data)
        message = reply["choices"][0]["message"]
        calls = [
            ToolCall(c.get("id", ""), c["function"]["name"], decoded_arguments(c["function"].get("arguments") or ""))
            for c in message.get("tool_calls") or []
        ]
        text = (message.get("content") or "").strip()
        usage = reply.get("usage") or {}
        return ModelReply(text, calls, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise ProviderError(ERROR, "the server's reply is not a chat completion") from None


def read_chunks(lines: Iterable[str], on_text: Callable[[str], None], streamed: list[bool]) -> ModelReply:
    """A `stream: true` reply: server-sent `data:` lines of chat.completion.chunk objects, then `[DONE]`.
    Tool calls arrive in pieces keyed by their index: the id and name first, the arguments in fragments."""
    text: list[str] = []
    calls: dict[int, list[str]] = {}
    usage: dict[str, Any] = {}
    try:
        for line in lines:
            if not line.startswith("data:"):
                continue  # comments, event names, keep-alives
            data = line[5:].strip()
            if data == "[DONE]":
                break
            chunk = json.loads(data)
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                if delta.get("content"):
                    text.append(delta["content"])
                    streamed.append(True)
                    on_text(delta["content"])
                for piece in delta.get("tool_calls") or []:
                    call = calls.setdefault(int(piece.get("index", 0)), ["", "", ""])
                    function = piece.get("function") or {}
                    call[0] = piece.get("id") or call[0]
                    call[1] = function.get("name") or call[1]
                    call[2] += function.get("arguments") or ""
    except (ValueError, TypeError, AttributeError):
        raise ProviderError(ERROR, "the server's stream is not chat completion chunks") from None
    found = [ToolCall(call_id, name, decoded_arguments(raw)) for _, (call_id, name, raw) in sorted(calls.items())]
    return ModelReply(
        "".join(text).strip(), found, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    )
