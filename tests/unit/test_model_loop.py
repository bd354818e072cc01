"""The tool-calling loop against the scripted model, over the real wire formats of both providers: OpenAI
Chat Completions (plain JSON and `stream: true` chunks) through httpx, and Bedrock Converse / ConverseStream
through a real botocore client pointed at the scripted server. Tools here are small ones over two catalogs of
different domains; test_agent_answers.py runs the catalog agent's own tools through the worker."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import boto3
import pytest
from botocore.config import Config

from parley import config
from parley.agent.contracts import Knowledge, Step, Tool, ToolError, ToolResult
from parley.agent.model_loop import ModelReply, StepLimitReached, ToolCall, run, run_call
from parley.engine import Source, Turn
from parley.providers import ERROR, TIMEOUT, LanguageModelEngine, ProviderError
from parley.providers.bedrock import BedrockProvider
from parley.providers.openai_compat import OpenAICompatibleProvider
from parley_local.scripted_model import ScriptedModel

BIKES = [
    {"sku": "BK-1", "name": "Trail Hardtail 29", "price": 899.0},
    {"sku": "BK-2", "name": "City Commuter 8-speed", "price": 549.0},
    {"sku": "HL-1", "name": "Trail Helmet MIPS", "price": 79.0},
]
TEAS = [
    {"sku": "T-10", "name": "Darjeeling First Flush", "price": 12.5},
    {"sku": "T-11", "name": "Gyokuro Green Tea", "price": 21.0},
    {"sku": "T-12", "name": "Assam Breakfast", "price": 7.9},
]
CATALOGS = {"bikes": (BIKES, "Which trail bikes do you have?"), "teas": (TEAS, "Which green tea do you sell?")}


def words(text: str) -> set[str]:
    return {w.strip("?.,!").lower() for w in text.split()}


def search_items(knowledge: Knowledge, args: dict[str, Any]) -> ToolResult:
    wanted = words(args["query"])
    hits = [item for item in knowledge.catalog if words(item["name"]) & wanted][: args.get("limit", 5)]
    return ToolResult({"products": hits}, len(hits), [Source("product", i["sku"], i["name"], None) for i in hits])


def get_item(knowledge: Knowledge, args: dict[str, Any]) -> ToolResult:
    for item in knowledge.catalog:
        if item["sku"] == args["sku"]:
            return ToolResult({"product": item}, 1, [Source("product", item["sku"], item["name"], None)])
    raise ToolError(f"no product has the sku {args['sku']!r}")


SEARCH = Tool(
    "search_items",
    "Find products whose name shares words with the query.",
    {
        "type": "object",
        "properties": {
            "query": {"type": "string", "minLength": 1},
            "limit": {"type": "integer", "minimum": 1, "maximum": 10},
        },
        "required": ["query"],
        "additionalProperties": False,
    },
    search_items,
)
GET = Tool(
    "get_item",
    "One product by its sku.",
    {"type": "object", "properties": {"sku": {"type": "string"}}, "required": ["sku"]},
    get_item,
)
TOOLS = [SEARCH, GET]


class Recorder:
    def __init__(self):
        self.steps: list[Step] = []
        self.deltas: list[str] = []

    def step(self, step: Step) -> None:
        self.steps.append(step)

    def delta(self, text: str) -> None:
        self.deltas.append(text)


@pytest.fixture(scope="module")
def scripted():
    with ScriptedModel("one_tool") as server:
        yield server


@pytest.fixture(autouse=True)
def key(monkeypatch, stack_names):
    monkeypatch.setenv("PARLEY_SECRETS_BACKEND", "env")
    monkeypatch.setenv("PROVIDER_HTTP_HOSTS", "127.0.0.1")  # the scripted model on loopback
    config.reset()  # settings are read once per process
    monkeypatch.setenv("SCRIPTED_KEY", "sk-scripted")


def provider_for(name: str, scripted: ScriptedModel, scenario: str, sleeps: list | None = None):
    model = f"scripted-{scenario}"
    sleep = (sleeps if sleeps is not None else []).append
    if name == "openai":
        return OpenAICompatibleProvider(
            {"model": model, "base_url": scripted.base_url, "api_key_secret": "SCRIPTED_KEY"}, sleep=sleep
        )
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=scripted.endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )
    return BedrockProvider({"model": model}, client=client, sleep=sleep)


def requests_since(scripted: ScriptedModel, start: int) -> list[dict[str, Any]]:
    return [body for _, _, body in scripted.requests[start:]]


PROVIDERS = ["openai", "bedrock"]
MODES = [pytest.param(False, id="plain"), pytest.param(True, id="streamed")]


def ask(
    scripted,
    provider_name,
    scenario,
    catalog="bikes",
    streamed=False,
    max_steps=6,
    sleeps=None,
    tools=TOOLS,
    history=None,
):
    items, question = CATALOGS[catalog]
    engine = LanguageModelEngine(
        provider_for(provider_name, scripted, scenario, sleeps),
        "Be brief.",
        tools=tools,
        max_steps=max_steps,
        budget_seconds=20,
    )
    listener = Recorder() if streamed else None
    start = len(scripted.requests)
    answer = engine.answer(question, history or [], Knowledge(catalog=items, index=None), listener)
    return answer, listener, requests_since(scripted, start)


# ------------------------------------------------------------------ scenarios, on both providers


@pytest.mark.parametrize("catalog", list(CATALOGS))
@pytest.mark.parametrize("streamed", MODES)
@pytest.mark.parametrize("provider_name", PROVIDERS)
def test_one_tool_call_then_an_answer_from_its_result(scripted, provider_name, streamed, catalog):
    answer, listener, sent = ask(scripted, provider_name, "one_tool", catalog, streamed)
    items, question = CATALOGS[catalog]
    expected = [i for i in items if words(i["name"]) & words(question)]
    assert expected  # the question does match the catalog

    assert [(s.tool, s.arguments, s.result_count, s.error) for s in answer.steps] == [
        ("search_items", {"query": question}, len(expected), None)
    ]
    assert answer.steps[0].duration_ms >= 0
    assert [(s.type, s.id) for s in answer.sources] == [("product", i["sku"]) for i in expected]
    assert answer.text == "From the catalog: " + "; ".join(i["name"] for i in expected) + "."
    assert len(sent) == 2
    assert answer.input_tokens > 0 and answer.output_tokens > 0
    if streamed:
        assert "".join(listener.deltas) == answer.text and len(listener.deltas) > 1
        assert listener.steps == answer.steps
    first, second = sent
    if provider_name == "openai":
        assert [t["function"]["name"] for t in first["tools"]] == ["search_items", "get_item"]
        assert first["tools"][0]["type"] == "function" and first["tool_choice"] == "auto"
        assert first["tools"][0]["function"]["parameters"] == SEARCH.input_schema
        assert first.get("stream") is (True if streamed else None)
        assert [m["role"] for m in first["messages"]] == ["system", "user"]
        call, result = second["messages"][-2:]
        assert call["role"] == "assistant" and call["tool_calls"][0]["function"]["name"] == "search_items"
        assert json.loads(call["tool_calls"][0]["function"]["arguments"]) == {"query": question}
        assert result["role"] == "tool" and result["tool_call_id"] == call["tool_calls"][0]["id"]
        assert json.loads(result["content"]) == {"products": expected}
    else:
        spec = first["toolConfig"]["tools"][0]["toolSpec"]
        assert spec["name"] == "search_items" and spec["inputSchema"]["json"] == SEARCH.input_schema
        assert first["toolConfig"]["toolChoice"] == {"auto": {}}
        call, result = second["messages"][-2:]
        [use] = [b["toolUse"] for b in call["content"] if "toolUse" in b]
        assert call["role"] == "assistant" and use["input"] == {"query": question}
        [tool_result] = [b["toolResult"] for b in result["content"]]
        assert result["role"] == "user" and tool_result["toolUseId"] == use["toolUseId"]
        assert "status" not in tool_result and json.loads(tool_result["content"][0]["text"]) == {"products": expected}


@pytest.mark.parametrize("streamed", MODES)
@pytest.mark.parametrize("provider_name", PROVIDERS)
def test_parallel_calls_in_one_step_run_side_by_side(scripted, provider_name, streamed):
    both_running = threading.Barrier(2, timeout=5)  # one call alone would wait out the timeout and fail

    def meeting(tool: Tool) -> Tool:
        def run_it(knowledge, args):
            both_running.wait()
            return tool.run(knowledge, args)

        return Tool(tool.name, tool.description, tool.input_schema, run_it)

    answer, _listener, sent = ask(
        scripted, provider_name, "parallel", "teas", streamed, tools=[meeting(SEARCH), meeting(GET)]
    )
    assert [s.tool for s in answer.steps] == ["search_items", "get_item"]
    search, get = answer.steps
    assert search.error is None and search.result_count == 1
    # the scripted model passes the question as the sku: no such product, reported back, not fatal
    assert get.error and "no product has the sku" in get.error
    assert [s.id for s in answer.sources] == ["T-11"] and answer.text == "From the catalog: Gyokuro Green Tea."
    assert len(sent) == 2
    if provider_name == "openai":
        results = [m for m in sent[1]["messages"] if m["role"] == "tool"]
        assert len(results) == 2 and "no product has the sku" in json.loads(results[1]["content"])["error"]
    else:
        blocks = [b["toolResult"] for b in sent[1]["messages"][-1]["content"]]
        assert [b.get("status") for b in blocks] == [None, "error"]


@pytest.mark.parametrize("streamed", MODES)
@pytest.mark.parametrize("provider_name", PROVIDERS)
def test_a_bad_argument_goes_back_as_a_tool_error_and_the_model_recovers(scripted, provider_name, streamed):
    answer, _, sent = ask(scripted, provider_name, "bad_argument", "bikes", streamed)
    bad, good = answer.steps
    assert bad.tool == "search_items" and bad.arguments == {"query": 12345}
    assert bad.error == "arguments.query must be of type string" and bad.result_count == 0
    assert good.error is None and good.result_count == 2
    assert answer.text.startswith("From the catalog: Trail Hardtail 29") and len(sent) == 3
    if provider_name == "bedrock":
        [result] = [b["toolResult"] for b in sent[1]["messages"][-1]["content"]]
        assert result["status"] == "error" and "must be of type string" in result["content"][0]["text"]
    else:
        assert json.loads(sent[1]["messages"][-1]["content"]) == {"error": "arguments.query must be of type string"}


@pytest.mark.parametrize("streamed", MODES)
@pytest.mark.parametrize("provider_name", PROVIDERS)
def test_a_runaway_model_is_stopped_at_the_step_budget_then_fails_with_step_limit(scripted, provider_name, streamed):
    with pytest.raises(StepLimitReached) as failure:
        ask(scripted, provider_name, "runaway", "bikes", streamed, max_steps=3)
    assert failure.value.code == "agent_step_limit"
    sent = [body for _, _, body in scripted.requests[-4:]]
    offered = ["tools" in body or "toolConfig" in body for body in sent]
    assert offered == [True, True, True, False]  # three steps, then once more without tools
    final = sent[-1]
    assert "tool_calls" not in json.dumps(final) and "toolUse" not in json.dumps(final)
    last_user = final["messages"][-1]
    text = last_user["content"] if provider_name == "openai" else last_user["content"][0]["text"]
    assert "Tool results for this question" in text and "No more tools can be used" in text
    assert text.count("search_items(") == 3


@pytest.mark.parametrize("provider_name", PROVIDERS)
def test_a_model_that_answers_once_tools_are_withdrawn_succeeds_with_its_steps(scripted, provider_name):
    answer, _, sent = ask(scripted, provider_name, "runaway_then_answers", "teas", max_steps=2)
    assert len(answer.steps) == 2 and len(sent) == 3
    assert answer.text == "From the catalog: Gyokuro Green Tea." and [s.id for s in answer.sources] == ["T-11"]


@pytest.mark.parametrize("streamed", MODES)
@pytest.mark.parametrize("provider_name", PROVIDERS)
def test_a_provider_error_mid_loop_is_a_final_provider_error(scripted, provider_name, streamed):
    with pytest.raises(ProviderError) as failure:
        ask(scripted, provider_name, "provider_error", "teas", streamed)
    assert failure.value.code == ERROR and not failure.value.retryable
    assert len(scripted.requests) >= 2


@pytest.mark.parametrize("streamed", MODES)
@pytest.mark.parametrize("provider_name", PROVIDERS)
def test_a_transient_provider_error_mid_loop_is_retried_and_the_answer_completes(scripted, provider_name, streamed):
    sleeps: list[float] = []
    answer, _, sent = ask(scripted, provider_name, "flaky", "bikes", streamed, sleeps=sleeps)
    assert len(sent) == 3 and sent[1] == sent[2] and len(sleeps) == 1
    assert len(answer.steps) == 1 and answer.text.startswith("From the catalog:")


@pytest.mark.parametrize("streamed", MODES)
@pytest.mark.parametrize("provider_name", PROVIDERS)
def test_a_model_that_answers_at_once_makes_no_steps(scripted, provider_name, streamed):
    answer, listener, sent = ask(scripted, provider_name, "answer", "teas", streamed)
    assert answer.steps == [] and answer.sources == [] and len(sent) == 1
    assert answer.text == "I can answer that without looking anything up."
    if streamed:
        assert "".join(listener.deltas) == answer.text and listener.steps == []


@pytest.mark.parametrize("provider_name", PROVIDERS)
def test_follow_ups_see_earlier_turns_with_their_steps_and_sources(scripted, provider_name):
    history = [
        Turn("user", "Which trail bikes do you have?"),
        Turn(
            "agent",
            "Trail Hardtail 29.",
            [Source("product", "BK-1", "Trail Hardtail 29", None)],
            [{"tool": "search_items", "arguments": {"query": "trail bikes"}, "result_count": 1, "duration_ms": 0.4}],
        ),
        Turn("user", "And helmets?"),
        Turn("system", "The language model did not answer in time."),
    ]
    _, _, sent = ask(scripted, provider_name, "answer", "bikes", history=history)
    messages = sent[0]["messages"]
    if provider_name == "openai":
        texts = [(m["role"], m["content"]) for m in messages[1:]]
    else:
        texts = [(m["role"], m["content"][0]["text"]) for m in messages]
    assert [role for role, _ in texts] == ["user", "assistant", "user"]  # the failed turn is left out
    earlier = texts[1][1]
    assert earlier.startswith("Trail Hardtail 29.")
    assert 'search_items({"query": "trail bikes"}) -> 1 results' in earlier and "product BK-1" in earlier


# ------------------------------------------------------------------ the loop's own rules


class ClockedModel:
    """A model that takes `seconds` of a fake clock per call and always asks for a tool while offered."""

    model = "clocked"

    def __init__(self, clock: list[float], seconds: float):
        self.clock, self.seconds, self.offered = clock, seconds, []

    def reply(self, system, messages, tools, deadline, on_text=None):
        self.clock[0] += self.seconds
        self.offered.append(tools is not None)
        if tools:
            return ModelReply("", [ToolCall(f"c{len(self.offered)}", "search_items", {"query": "tea"})], 10, 2)
        return ModelReply("Assam Breakfast.", [], 10, 2)


def test_the_deadline_bounds_the_loop_before_the_step_budget_does():
    clock = [0.0]
    model = ClockedModel(clock, 2.0)
    answer = run(
        model,
        "sys",
        [{"role": "user", "text": "tea?"}],
        Knowledge(TEAS, None),
        TOOLS,
        max_steps=6,
        deadline=7.0,
        clock=lambda: clock[0],
    )
    # calls end at t=2 and t=4; another step (to t=6) would leave no room for the final call, so the
    # third call is the final one, done by t=6
    assert model.offered == [True, True, False]
    assert len(answer.steps) == 2 and (answer.input_tokens, answer.output_tokens) == (30, 6)


def test_unknown_tools_non_object_arguments_and_broken_tools_are_tool_errors():
    def broken(knowledge, args):
        raise RuntimeError("disk on fire")

    tools = {"search_items": SEARCH, "broken": Tool("broken", "", {"type": "object"}, broken)}
    knowledge = Knowledge(BIKES, None)
    step, outcome, _ = run_call(ToolCall("1", "nope", {}), tools, knowledge)
    assert "no tool named 'nope'" in step.error and outcome.content == {"error": step.error}
    step, _, _ = run_call(ToolCall("2", "search_items", '{"query": '), tools, knowledge)
    assert step.error == "the arguments are not a JSON object" and step.arguments == {"raw": '{"query": '}
    step, _, _ = run_call(ToolCall("3", "broken", {}), tools, knowledge)
    assert step.error == "the tool failed" and "disk" not in step.error
    step, _, _ = run_call(ToolCall("4", "search_items", {"query": "x", "colour": "red"}), tools, knowledge)
    assert step.error.startswith("arguments.colour is not a known argument")
    step, _, _ = run_call(ToolCall("5", "search_items", {"query": "trail", "limit": 50}), tools, knowledge)
    assert step.error == "arguments.limit must be at most 10"


def test_a_trickling_server_cannot_hold_a_call_past_the_answers_deadline(monkeypatch):
    """The read timeout restarts with every byte; the answer's deadline does not."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    stop = threading.Event()

    class Trickle(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers["content-length"]))
            body = json.dumps({"choices": [{"message": {"role": "assistant", "content": "late"}}]}).encode()
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            for byte in body:  # one byte every 0.1 s: each read finishes well inside the read timeout
                if stop.wait(0.1):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        provider = OpenAICompatibleProvider(
            {"model": "m", "base_url": f"http://127.0.0.1:{server.server_port}/v1", "api_key_secret": "SCRIPTED_KEY"},
            read_timeout=5,
        )
        with pytest.raises(ProviderError) as failure:
            provider.reply("sys", [{"role": "user", "text": "hi"}], None, time.monotonic() + 1.0)
        assert failure.value.code == TIMEOUT and "time ran out" in failure.value.reason
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


class PreambleModel:
    """Says something before asking for a tool, then answers (as Claude models on Bedrock often do)."""

    model = "preamble"

    def reply(self, system, messages, tools, deadline, on_text=None):
        if messages[-1]["role"] == "user":
            return ModelReply("Let me check the catalog.", [ToolCall("c1", "search_items", {"query": "tea"})], 5, 1)
        return ModelReply("  Assam Breakfast is 7.90.  ", [], 5, 1)


def test_text_before_a_tool_call_is_part_of_the_answer_and_what_was_streamed_is_what_is_stored():
    listener = Recorder()
    answer = run(
        PreambleModel(),
        "sys",
        [{"role": "user", "text": "tea?"}],
        Knowledge(TEAS, None),
        TOOLS,
        deadline=time.monotonic() + 5,
        listener=listener,
    )
    assert answer.text == "Let me check the catalog.\n\nAssam Breakfast is 7.90."
    assert "".join(listener.deltas) == answer.text and len(listener.steps) == 1
    quiet = run(
        PreambleModel(),
        "sys",
        [{"role": "user", "text": "tea?"}],
        Knowledge(TEAS, None),
        TOOLS,
        deadline=time.monotonic() + 5,
    )
    assert quiet.text == answer.text and quiet.steps[0].tool == "search_items"


def test_text_from_a_call_still_streaming_after_the_answer_ended_is_not_passed_on():
    answered, late_text_sent = threading.Event(), threading.Event()

    class AbandonedStream:
        """Answers, while a call it left behind (as one abandoned at the deadline is) streams on."""

        model = "abandoned"

        def reply(self, system, messages, tools, deadline, on_text=None):
            def straggler():
                answered.wait(5)
                on_text("late words")
                late_text_sent.set()

            threading.Thread(target=straggler, daemon=True).start()
            on_text("On time.")
            return ModelReply("On time.", [], 1, 1)

    listener = Recorder()
    answer = run(
        AbandonedStream(),
        "sys",
        [{"role": "user", "text": "q"}],
        Knowledge(TEAS, None),
        TOOLS,
        deadline=time.monotonic() + 5,
        listener=listener,
    )
    answered.set()
    assert late_text_sent.wait(5)
    assert answer.text == "On time." and listener.deltas == ["On time."]


def test_openai_chunks_assemble_interleaved_tool_calls_and_a_broken_stream_is_a_provider_error():
    from parley.providers.openai_compat import read_chunks

    def chunk(delta):
        return "data: " + json.dumps({"choices": [{"index": 0, "delta": delta}]})

    lines = [
        ": keep-alive",
        "",
        chunk({"tool_calls": [{"index": 1, "id": "b", "function": {"name": "get_item", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "search_items", "arguments": '{"qu'}}]}),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"sku": "T-11"}'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ery": "tea"}'}}]}),
        'data: {"choices": [], "usage": {"prompt_tokens": 40, "completion_tokens": 9}}',
        "data: [DONE]",
    ]
    reply = read_chunks(lines, lambda text: None, [])
    assert [(c.id, c.name, c.arguments) for c in reply.calls] == [
        ("a", "search_items", {"query": "tea"}),
        ("b", "get_item", {"sku": "T-11"}),
    ]
    assert (reply.text, reply.input_tokens, reply.output_tokens) == ("", 40, 9)
    with pytest.raises(ProviderError) as failure:
        read_chunks(["data: {not json"], lambda text: None, [])
    assert failure.value.code == ERROR and "not chat completion chunks" in failure.value.reason
