"""Language-model providers: retries, error codes and request shapes (Bedrock Converse through botocore's
Stubber, OpenAI-compatible Chat Completions through a real HTTP server on loopback), and the API key lookup.
The tool-calling loop over both is in test_model_loop.py."""

from __future__ import annotations

import json
import logging
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from parley import config
from parley.engine import Turn
from parley.providers import ERROR, THROTTLED, TIMEOUT, LanguageModelEngine, ProviderError, secrets
from parley.providers.bedrock import BedrockProvider
from parley.providers.openai_compat import OpenAICompatibleProvider, retry_after_seconds
from parley.retrieval import SearchIndex
from parley_local.samples import load_sample

QUESTION = "Does FiberUP Business Duplex include an SLA?"
HISTORY = [
    Turn("user", "What business plans do you have?"),
    Turn("agent", "Business Basic and Business Duplex."),
    Turn("user", "Which is cheapest?"),
    Turn("system", "The language model did not answer in time."),
]


@pytest.fixture(scope="module")
def index():
    return SearchIndex.build(*load_sample())


# ------------------------------------------------------------------ a fake OpenAI-compatible server


def completion(text: str, prompt_tokens: int = 321, completion_tokens: int = 12) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "test-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class FakeOpenAI:
    """A Chat Completions server on 127.0.0.1 that plays scripted replies and records each request.

    A reply is (status, body, headers) or ("hang", seconds): hold the connection without answering.
    The last reply repeats once the script runs out.
    """

    def __init__(self):
        self.replies: list[tuple] = []
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                fake.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": json.loads(self.rfile.read(length) or b"null"),
                    }
                )
                reply = fake.replies[min(len(fake.requests), len(fake.replies)) - 1]
                if reply[0] == "hang":
                    fake.release.wait(reply[1])
                    return
                status, body, headers = (reply + ({},))[:3] if len(reply) == 2 else reply
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_openai(monkeypatch, stack_names):
    monkeypatch.setenv("PARLEY_SECRETS_BACKEND", "env")
    config.reset()  # settings are read once per process
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-test-do-not-log-4711")
    monkeypatch.setenv("PROVIDER_HTTP_HOSTS", "127.0.0.1")  # as the local stack allows loopback over http
    server = FakeOpenAI()
    yield server
    server.close()


def openai_engine(fake: FakeOpenAI, sleeps: list, budget: float = 20.0, **provider_args) -> LanguageModelEngine:
    settings = {
        "provider": "openai",
        "model": "test-model",
        "base_url": fake.base_url,
        "api_key_secret": "TEST_OPENAI_KEY",
        "temperature": 0.2,
        "max_tokens": 256,
    }
    provider = OpenAICompatibleProvider(settings, sleep=sleeps.append, **provider_args)
    return LanguageModelEngine(provider, "Answer in one sentence.", tools=[], budget_seconds=budget)


def test_openai_request_shape_then_429_retried_honouring_retry_after(fake_openai, index):
    fake_openai.replies = [
        (429, {"error": {"message": "slow down"}}, {"Retry-After": "0.05"}),
        (200, completion("Yes, Business Duplex has a 99.9% SLA.")),
    ]
    sleeps: list[float] = []
    answer = openai_engine(fake_openai, sleeps).answer(QUESTION, HISTORY, index)

    assert answer.text == "Yes, Business Duplex has a 99.9% SLA."
    assert (answer.input_tokens, answer.output_tokens) == (321, 12)
    assert len(fake_openai.requests) == 2 and len(sleeps) == 1 and sleeps[0] >= 0.05
    first, second = fake_openai.requests
    assert first["body"] == second["body"]
    assert first["path"] == "/v1/chat/completions"
    assert first["headers"]["Authorization"] == "Bearer sk-test-do-not-log-4711"
    body = first["body"]
    assert body["model"] == "test-model" and body["temperature"] == 0.2 and body["max_tokens"] == 256
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user", "assistant", "user"]  # the failed turn is not sent
    system, earlier_q, earlier_a, final = (m["content"] for m in body["messages"])
    assert "Use the tools" in system and system.endswith("Answer in one sentence.")
    assert (earlier_q, earlier_a) == ("What business plans do you have?", "Business Basic and Business Duplex.")
    assert final == QUESTION
    assert "tools" not in body and "tool_choice" not in body and "stream" not in body  # none offered
    assert answer.sources == [] and answer.steps == []


def test_openai_5xx_is_retried_and_a_401_is_final_at_once(fake_openai, index):
    fake_openai.replies = [(503, {"error": "busy"}), (200, completion("Fine."))]
    assert openai_engine(fake_openai, []).answer(QUESTION, [], index).text == "Fine."
    assert len(fake_openai.requests) == 2

    fake_openai.requests.clear()
    fake_openai.replies = [(401, {"error": {"message": "Incorrect API key provided: sk-test-do-not-log-4711"}})]
    with pytest.raises(ProviderError) as failure:
        openai_engine(fake_openai, []).answer(QUESTION, [], index)
    assert failure.value.code == ERROR and not failure.value.retryable and "401" in failure.value.message
    assert "sk-test" not in failure.value.message
    assert len(fake_openai.requests) == 1


def test_openai_timeout_is_provider_timeout(fake_openai, index):
    fake_openai.replies = [("hang", 10)]
    with pytest.raises(ProviderError) as failure:
        openai_engine(fake_openai, [], budget=0.5, read_timeout=0.2).answer(QUESTION, [], index)
    assert failure.value.code == TIMEOUT
    assert len(fake_openai.requests) >= 1


def test_openai_throttling_past_the_budget_is_provider_throttled_and_the_key_is_never_logged(
    fake_openai, index, caplog
):
    caplog.set_level(logging.DEBUG)  # every logger, httpx's and httpcore's included
    fake_openai.replies = [(429, {"error": "rate limited"}, {"Retry-After": "120"})]
    with pytest.raises(ProviderError) as failure:
        openai_engine(fake_openai, []).answer(QUESTION, [], index)
    assert failure.value.code == THROTTLED and failure.value.retryable
    assert len(fake_openai.requests) == 1  # a 120 s wait does not fit a 20 s budget
    logged = [{**vars(r), "formatted": r.getMessage()} for r in caplog.records]
    failure_logs = [r for r in logged if r.get("code") == THROTTLED]
    assert failure_logs and failure_logs[0]["host"] == "127.0.0.1" and failure_logs[0]["model"] == "test-model"
    assert logged and "sk-test-do-not-log-4711" not in repr(logged)


def test_openai_reply_that_is_not_a_completion_is_provider_error(fake_openai, index):
    fake_openai.replies = [(200, {"unexpected": True})]
    with pytest.raises(ProviderError) as failure:
        openai_engine(fake_openai, []).answer(QUESTION, [], index)
    assert failure.value.code == ERROR and len(fake_openai.requests) == 1


def test_retry_after_accepts_seconds_and_http_dates():
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert 25 <= retry_after_seconds(formatdate(__import__("time").time() + 30, usegmt=True)) <= 31


# ------------------------------------------------------------------ API keys


def test_env_backend_reads_the_named_variable_and_a_missing_one_is_a_clear_error(monkeypatch, stack_names):
    monkeypatch.setenv("PARLEY_SECRETS_BACKEND", "env")
    config.reset()  # settings are read once per process
    monkeypatch.setenv("MY_KEY", "k-1")
    assert secrets.api_key("MY_KEY") == "k-1"
    monkeypatch.delenv("MY_KEY")
    with pytest.raises(ProviderError) as failure:
        secrets.api_key("MY_KEY")
    assert failure.value.code == ERROR and "MY_KEY" in failure.value.message


def test_aws_backend_reads_secrets_manager_plain_or_json(cloud, monkeypatch):
    monkeypatch.delenv("PARLEY_SECRETS_BACKEND", raising=False)
    config.reset()  # settings are read once per process
    secrets.clear_cache()
    manager = boto3.client("secretsmanager")
    manager.create_secret(Name="parley/plain", SecretString="sk-plain")
    manager.create_secret(Name="parley/json", SecretString=json.dumps({"api_key": "sk-json"}))
    try:
        assert secrets.api_key("parley/plain") == "sk-plain"
        assert secrets.api_key("parley/json") == "sk-json"
        with pytest.raises(ProviderError) as failure:
            secrets.api_key("parley/missing")
        assert failure.value.code == ERROR and "ResourceNotFoundException" in failure.value.message
    finally:
        secrets.clear_cache()


# ------------------------------------------------------------------ Bedrock


def converse_response(text: str) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 812, "outputTokens": 17, "totalTokens": 829},
        "metrics": {"latencyMs": 420},
    }


@pytest.fixture
def bedrock():
    client = boto3.client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    sent: list[dict[str, Any]] = []
    client.meta.events.register(
        "provide-client-params.bedrock-runtime.Converse",
        lambda params, **_: sent.append(json.loads(json.dumps(params))),
    )
    with Stubber(client) as stubber:
        yield client, stubber, sent
        stubber.assert_no_pending_responses()


def bedrock_engine(client, sleeps: list, budget: float = 20.0) -> LanguageModelEngine:
    settings = {"provider": "bedrock", "model": "amazon.nova-lite-v1:0", "temperature": 0.1, "max_tokens": 300}
    return LanguageModelEngine(
        BedrockProvider(settings, client=client, sleep=sleeps.append),
        "Mention the product name.",
        tools=[],
        budget_seconds=budget,
    )


def test_bedrock_request_shape_and_throttling_then_success(bedrock, index):
    client, stubber, sent = bedrock
    stubber.add_client_error(
        "converse", service_error_code="ThrottlingException", http_status_code=429, service_message="Too many requests"
    )
    stubber.add_response("converse", converse_response("Yes: FiberUP Business Duplex has a 99.9% SLA."))
    sleeps: list[float] = []
    answer = bedrock_engine(client, sleeps).answer(QUESTION, HISTORY, index)

    assert answer.text == "Yes: FiberUP Business Duplex has a 99.9% SLA."
    assert (answer.input_tokens, answer.output_tokens) == (812, 17)
    assert len(sent) == 2 and sent[0] == sent[1] and len(sleeps) == 1
    request = sent[0]
    assert request["modelId"] == "amazon.nova-lite-v1:0"
    assert request["inferenceConfig"] == {"maxTokens": 300, "temperature": 0.1}
    [system] = request["system"]
    assert "Use the tools" in system["text"] and system["text"].endswith("Mention the product name.")
    messages = request["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"] == [{"text": "What business plans do you have?"}]
    assert messages[1]["content"] == [{"text": "Business Basic and Business Duplex."}]
    assert messages[2]["content"] == [{"text": QUESTION}]
    assert "Which is cheapest?" not in json.dumps(request)  # the failed turn stays out
    assert "toolConfig" not in request and answer.steps == []


def test_bedrock_throttling_that_outlasts_the_budget_is_provider_throttled(bedrock, index):
    client, stubber, sent = bedrock
    stubber.add_client_error("converse", service_error_code="ThrottlingException", http_status_code=429)
    with pytest.raises(ProviderError) as failure:
        bedrock_engine(client, [], budget=0.5).answer(QUESTION, [], index)  # no second attempt fits
    assert failure.value.code == THROTTLED and len(sent) == 1


@pytest.mark.parametrize(
    "code,status,expected,retryable",
    [
        ("AccessDeniedException", 403, ERROR, False),
        ("ValidationException", 400, ERROR, False),
        ("ModelTimeoutException", 408, TIMEOUT, True),
        ("InternalServerException", 500, ERROR, True),
        ("ServiceUnavailableException", 503, ERROR, True),
    ],
)
def test_bedrock_errors_map_to_codes(bedrock, index, code, status, expected, retryable):
    client, stubber, sent = bedrock
    stubber.add_client_error("converse", service_error_code=code, http_status_code=status)
    with pytest.raises(ProviderError) as failure:
        bedrock_engine(client, [], budget=0.5).answer(QUESTION, [], index)
    assert failure.value.code == expected and failure.value.retryable is retryable and len(sent) == 1
    if code == "AccessDeniedException":
        assert "BedrockModelIds" in failure.value.message
