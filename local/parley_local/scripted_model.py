"""A scripted language model that speaks the providers' wire formats, for tests, benchmarks and `make dev`.

Standard library only. One HTTP server on loopback answers:

- OpenAI Chat Completions with tools: ``POST /v1/chat/completions``, plain JSON or ``stream: true``
  (server-sent chunks, tool calls streamed in pieces, usage in the last chunk);
- Bedrock Converse: ``POST /model/{modelId}/converse`` (JSON) and ``/model/{modelId}/converse-stream`` (the
  AWS event-stream binary framing), so a real botocore client pointed at it with ``endpoint_url`` works.

It plays a scenario, chosen by the model name ``scripted-<scenario>`` or else the server's default. A
scenario decides from the request alone (the question, the tools offered, the tool rounds so far), so every
request is answered the same way however often it is sent:

``answer``               answers at once, without tools
``one_tool``             calls the first tool offered with the question, then answers from its result
``parallel``             calls the first and the last tool in one step, then answers
``bad_argument``         calls the first tool with wrongly typed arguments, then correctly, then answers
``runaway``              asks for a tool whenever tools are offered; with none offered it says nothing
``runaway_then_answers`` asks for tools while offered; answers when they are withdrawn
``provider_error``       calls a tool, then fails the next call for good (HTTP 400 / ModelErrorException)
``flaky``                calls a tool, then fails the next call once with a 503 and answers on the retry

Run beside ``make dev``: ``make scripted-model`` (port 8811), then set a data set's
answer settings to ``{"provider": "openai", "model": "scripted-one_tool", "base_url":
"http://127.0.0.1:8811/v1", "api_key_secret": "..."}`` (any key), or for Bedrock point the worker at it with
``AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://127.0.0.1:8811``.
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

SCENARIOS = (
    "answer",
    "one_tool",
    "parallel",
    "bad_argument",
    "runaway",
    "runaway_then_answers",
    "provider_error",
    "flaky",
)
NAME_KEYS = ("name", "title")
NAMES_IN_ANSWER = 3


@dataclass
class Exchange:
    """What a request holds, whichever API carried it."""

    question: str
    tools: list[tuple[str, dict[str, Any]]]  # (name, input schema) offered
    rounds: int  # assistant tool-call turns since the question
    results: list[tuple[str, str, bool]] = field(default_factory=list)  # (tool, content text, is error)


@dataclass
class Decision:
    text: str = ""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failure: str | None = None  # "final" or "transient"


def _fill(schema: dict[str, Any], question: str) -> Any:
    """A valid value for a property schema, from the question where it takes text."""
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if "enum" in schema:
        return schema["enum"][0]
    if kind in {"integer", "number"}:
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if kind == "array":
        return [_fill(schema.get("items") or {"type": "string"}, question)] if schema.get("minItems") else []
    if kind == "object":
        return {}
    return question[: schema.get("maxLength", len(question))] or "x"


def arguments_for(schema: dict[str, Any], question: str) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    wanted = list(schema.get("required") or [])
    if not wanted:
        wanted = [name for name, prop in properties.items() if prop.get("type") == "string"][:1]
    return {name: _fill(properties.get(name) or {"type": "string"}, question) for name in wanted}


def bad_arguments_for(schema: dict[str, Any]) -> dict[str, Any]:
    """Arguments of the wrong type for every required (or else the first) property."""
    properties = schema.get("properties") or {}
    names = list(schema.get("required") or []) or list(properties)[:1]
    wrong = {"string": 12345, "integer": "many", "number": "many", "boolean": "maybe", "array": "x", "object": "x"}
    if not names:
        return {"not_an_argument": True}
    return {name: wrong.get(str((properties.get(name) or {}).get("type"))) for name in names}


def _names(value: Any, found: list[str]) -> None:
    if len(found) >= NAMES_IN_ANSWER:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if key in NAME_KEYS and isinstance(item, str) and item not in found:
                found.append(item)
            else:
                _names(item, found)
    elif isinstance(value, list):
        for item in value:
            _names(item, found)


def answer_text(exchange: Exchange) -> str:
    """An answer that names what the tool results held (or says nothing was found)."""
    found: list[str] = []
    for _, content, is_error in exchange.results:
        if not is_error:
            try:
                _names(json.loads(content), found)
            except ValueError:
                pass
    if not exchange.results:  # the final, tool-less request carries the results as text
        named = re.findall(r'"(?:name|title)": "([^"]+)"', exchange.question)
        found = list(dict.fromkeys(named))[:NAMES_IN_ANSWER]
    if found:
        return "From the catalog: " + "; ".join(found) + "."
    if exchange.results or "Tool results" in exchange.question:
        return "The look-ups found nothing that answers this."
    return "I can answer that without looking anything up."


def decide(scenario: str, exchange: Exchange, seen_before: bool) -> Decision:
    tools = exchange.tools
    first = tools[0] if tools else None
    if scenario in ("runaway", "runaway_then_answers"):
        if first:
            return Decision(calls=[(first[0], arguments_for(first[1], exchange.question))])
        return Decision("" if scenario == "runaway" else answer_text(exchange))
    if (
        scenario == "answer"
        or first is None
        or (exchange.rounds >= 1 and scenario not in ("bad_argument", "provider_error", "flaky"))
    ):
        return Decision(answer_text(exchange))
    if exchange.rounds == 0:
        if scenario == "parallel":
            last = tools[-1]
            second = arguments_for(last[1], exchange.question)
            if last is first:  # one tool only: ask it twice, the second time with fewer words
                second = arguments_for(last[1], " ".join(exchange.question.split()[:3]))
            return Decision(calls=[(first[0], arguments_for(first[1], exchange.question)), (last[0], second)])
        if scenario == "bad_argument":
            return Decision(calls=[(first[0], bad_arguments_for(first[1]))])
        return Decision(calls=[(first[0], arguments_for(first[1], exchange.question))])
    if scenario == "bad_argument" and exchange.rounds == 1:
        return Decision(calls=[(first[0], arguments_for(first[1], exchange.question))])
    if scenario == "provider_error":
        return Decision(failure="final")
    if scenario == "flaky" and not seen_before:
        return Decision(failure="transient")
    return Decision(answer_text(exchange))


def _tokens(value: Any) -> int:
    return max(1, len(json.dumps(value, default=str)) // 4)


# ---------------------------------------------------------------- OpenAI Chat Completions


def openai_exchange(body: dict[str, Any]) -> Exchange:
    messages = body.get("messages") or []
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    question = str(messages[last_user].get("content") or "") if last_user >= 0 else ""
    names: dict[str, str] = {}
    rounds = 0
    results = []
    for message in messages[last_user + 1 :]:
        if message.get("role") == "assistant" and message.get("tool_calls"):
            rounds += 1
            names.update({c.get("id"): c["function"]["name"] for c in message["tool_calls"]})
        elif message.get("role") == "tool":
            content = str(message.get("content") or "")
            results.append((names.get(message.get("tool_call_id"), "?"), content, content.startswith('{"error"')))
    tools = [(t["function"]["name"], t["function"].get("parameters") or {}) for t in body.get("tools") or []]
    return Exchange(question, tools, rounds, results)


def openai_message(decision: Decision, number: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": decision.text or (None if decision.calls else "")}
    if decision.calls:
        message["tool_calls"] = [
            {
                "id": f"call_{number}_{i}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
            for i, (name, arguments) in enumerate(decision.calls)
        ]
    return message


def openai_chunks(decision: Decision, number: int, usage: dict[str, int], model: str) -> list[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion.chunk",
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    chunks = [chunk({"role": "assistant", "content": ""})]
    words = decision.text.split(" ")
    chunks += [chunk({"content": word if i == 0 else " " + word}) for i, word in enumerate(words) if decision.text]
    for i, (name, arguments) in enumerate(decision.calls):
        text = json.dumps(arguments)
        half = len(text) // 2
        chunks.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": i,
                            "id": f"call_{number}_{i}",
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }
                    ]
                }
            )
        )
        chunks += [
            chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
            for piece in (text[:half], text[half:])
        ]
    chunks.append(chunk({}, "tool_calls" if decision.calls else "stop"))
    chunks.append(
        {"id": f"chatcmpl-{number}", "object": "chat.completion.chunk", "model": model, "choices": [], "usage": usage}
    )
    return chunks


# ---------------------------------------------------------------- Bedrock Converse


def bedrock_exchange(body: dict[str, Any]) -> Exchange:
    messages = body.get("messages") or []
    last_user = max(
        (
            i
            for i, m in enumerate(messages)
            if m.get("role") == "user" and any("text" in block for block in m.get("content") or [])
        ),
        default=-1,
    )
    question = "".join(b.get("text", "") for b in messages[last_user]["content"]) if last_user >= 0 else ""
    names: dict[str, str] = {}
    rounds = 0
    results = []
    for message in messages[last_user + 1 :]:
        blocks = message.get("content") or []
        uses = [b["toolUse"] for b in blocks if "toolUse" in b]
        if message.get("role") == "assistant" and uses:
            rounds += 1
            names.update({u["toolUseId"]: u["name"] for u in uses})
        for block in blocks:
            if "toolResult" in block:
                result = block["toolResult"]
                content = "".join(c.get("text", "") or json.dumps(c.get("json")) for c in result.get("content") or [])
                results.append((names.get(result.get("toolUseId"), "?"), content, result.get("status") == "error"))
    tools = [
        (t["toolSpec"]["name"], t["toolSpec"]["inputSchema"]["json"])
        for t in (body.get("toolConfig") or {}).get("tools") or []
        if "toolSpec" in t
    ]
    return Exchange(question, tools, rounds, results)


def bedrock_content(decision: Decision, number: int) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = [{"text": decision.text}] if decision.text else []
    content += [
        {"toolUse": {"toolUseId": f"tooluse_{number}_{i}", "name": name, "input": arguments}}
        for i, (name, arguments) in enumerate(decision.calls)
    ]
    return content


def event_message(event_type: str, payload: dict[str, Any]) -> bytes:
    """One message of the AWS event-stream framing: prelude (lengths and their CRC32), headers, payload, and
    the CRC32 of all before it. Headers are string-typed (type 7)."""
    headers = b""
    for name, value in ((":event-type", event_type), (":content-type", "application/json"), (":message-type", "event")):
        headers += struct.pack("!B", len(name)) + name.encode() + struct.pack("!BH", 7, len(value)) + value.encode()
    data = json.dumps(payload).encode()
    total = 12 + len(headers) + len(data) + 4
    prelude = struct.pack("!II", total, len(headers))
    message = prelude + struct.pack("!I", zlib.crc32(prelude)) + headers + data
    return message + struct.pack("!I", zlib.crc32(message))


def bedrock_events(decision: Decision, number: int, usage: dict[str, int]) -> list[bytes]:
    events = [event_message("messageStart", {"role": "assistant"})]
    index = 0
    if decision.text:
        for i, word in enumerate(decision.text.split(" ")):
            events.append(
                event_message(
                    "contentBlockDelta", {"delta": {"text": word if i == 0 else " " + word}, "contentBlockIndex": index}
                )
            )
        events.append(event_message("contentBlockStop", {"contentBlockIndex": index}))
        index += 1
    for i, (name, arguments) in enumerate(decision.calls):
        text = json.dumps(arguments)
        half = len(text) // 2
        events.append(
            event_message(
                "contentBlockStart",
                {
                    "start": {"toolUse": {"toolUseId": f"tooluse_{number}_{i}", "name": name}},
                    "contentBlockIndex": index,
                },
            )
        )
        events += [
            event_message("contentBlockDelta", {"delta": {"toolUse": {"input": piece}}, "contentBlockIndex": index})
            for piece in (text[:half], text[half:])
        ]
        events.append(event_message("contentBlockStop", {"contentBlockIndex": index}))
        index += 1
    events.append(event_message("messageStop", {"stopReason": "tool_use" if decision.calls else "end_turn"}))
    events.append(event_message("metadata", {"usage": usage, "metrics": {"latencyMs": 1}}))
    return events


# ---------------------------------------------------------------- the server


class ScriptedModel:
    """The server. `requests` records every request as (api, path, body), in arrival order."""

    def __init__(self, scenario: str = "one_tool", host: str = "127.0.0.1", port: int = 0):
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
        self.scenario = scenario
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="scripted-model", daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        return self.endpoint + "/v1"

    def start(self) -> ScriptedModel:
        self.thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> ScriptedModel:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.close()

    def scenario_for(self, model: str) -> str:
        named = model.removeprefix("scripted-")
        return named if model.startswith("scripted-") and named in SCENARIOS else self.scenario

    def _decide(self, api: str, path: str, body: dict[str, Any], model: str, exchange: Exchange) -> tuple:
        key = json.dumps([api, body], sort_keys=True, default=str)
        with self._lock:
            self.requests.append((api, path, body))
            seen_before = key in self._seen
            self._seen.add(key)
            number = len(self.requests)
        decision = decide(self.scenario_for(model), exchange, seen_before)
        reply_size = _tokens([decision.text, decision.calls]) if (decision.text or decision.calls) else 0
        return decision, number, _tokens(body), reply_size

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server_model = self

        class Handler(ModelRequestHandler):
            scripted = server_model

        return Handler


class ModelRequestHandler(BaseHTTPRequestHandler):
    """One request to the scripted model: routed to the OpenAI or Bedrock wire format; `scripted` decides."""

    scripted: ScriptedModel

    def log_message(self, *args: Any) -> None:
        pass

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def stream(self, content_type: str, pieces: list[bytes]) -> None:
        self.send_response(200)  # no length: the body ends when the connection closes
        self.send_header("content-type", content_type)
        self.send_header("connection", "close")
        self.end_headers()
        for piece in pieces:
            self.wfile.write(piece)
            self.wfile.flush()
        self.close_connection = True

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self.send(400, b'{"error": {"message": "the body is not JSON"}}')
            return
        if self.path.rstrip("/").endswith("/chat/completions"):
            self.openai(body)
            return
        match = re.fullmatch(r"/model/([^/]+)/(converse|converse-stream)", self.path)
        if match:
            self.bedrock(unquote(match.group(1)), match.group(2) == "converse-stream", body)
            return
        self.send(404, b'{"error": {"message": "not found"}}')

    def openai(self, body: dict[str, Any]) -> None:
        model = str(body.get("model") or "")
        decision, number, tokens_in, tokens_out = self.scripted._decide(
            "openai", self.path, body, model, openai_exchange(body)
        )
        if decision.failure:
            status = 400 if decision.failure == "final" else 503
            self.send(status, json.dumps({"error": {"message": "scripted failure"}}).encode())
            return
        usage = {
            "prompt_tokens": tokens_in,
            "completion_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
        }
        if body.get("stream"):
            chunks = openai_chunks(decision, number, usage, model)
            self.stream(
                "text/event-stream",
                [f"data: {json.dumps(c)}\n\n".encode() for c in chunks] + [b"data: [DONE]\n\n"],
            )
            return
        reply = {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion",
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": openai_message(decision, number),
                    "finish_reason": "tool_calls" if decision.calls else "stop",
                }
            ],
            "usage": usage,
        }
        self.send(200, json.dumps(reply).encode())

    def bedrock(self, model: str, streaming: bool, body: dict[str, Any]) -> None:
        decision, number, tokens_in, tokens_out = self.scripted._decide(
            "bedrock", self.path, body, model, bedrock_exchange(body)
        )
        if decision.failure:
            status, code = (
                (424, "ModelErrorException") if decision.failure == "final" else (503, "ServiceUnavailableException")
            )
            self.send(status, json.dumps({"message": "scripted failure"}).encode(), headers={"x-amzn-errortype": code})
            return
        usage = {"inputTokens": tokens_in, "outputTokens": tokens_out, "totalTokens": tokens_in + tokens_out}
        if streaming:
            self.stream("application/vnd.amazon.eventstream", bedrock_events(decision, number, usage))
            return
        reply = {
            "output": {"message": {"role": "assistant", "content": bedrock_content(decision, number)}},
            "stopReason": "tool_use" if decision.calls else "end_turn",
            "usage": usage,
            "metrics": {"latencyMs": 1},
        }
        self.send(200, json.dumps(reply).encode())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m parley_local.scripted_model", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8811)
    parser.add_argument(
        "--scenario",
        default="one_tool",
        choices=SCENARIOS,
        help="played when the model name is not scripted-<scenario>",
    )
    args = parser.parse_args(argv)
    model = ScriptedModel(args.scenario, args.host, args.port)
    print(
        f"scripted model ({args.scenario}): OpenAI base_url {model.base_url}, Bedrock endpoint {model.endpoint}",
        flush=True,
    )
    try:
        model.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        model.server.server_close()


if __name__ == "__main__":
    main()
