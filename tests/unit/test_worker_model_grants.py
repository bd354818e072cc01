"""The worker's model grants exercised through the real path (API -> queue -> the worker function's pool ->
the scripted model on loopback): a data set on Bedrock with a model the template's BedrockModelIds allows,
answered plain (Converse, bedrock:InvokeModel) and streamed to a WebSocket subscriber (ConverseStream,
bedrock:InvokeModelWithResponseStream); and an OpenAI-compatible data set whose API key is read from
Secrets Manager (secretsmanager:GetSecretValue on this stack's `parley/*` secrets), as on AWS."""

from __future__ import annotations

import json
from urllib.parse import unquote

import boto3
import pytest

from parley import aws, config
from parley.providers import secrets
from parley_local.scripted_model import ScriptedModel

from .test_streaming import events_until_done, open_socket, ws  # noqa: F401  (fixture)

SETTINGS = "/api/data_sets/1/settings"
QUESTION = "Which plans include an SLA?"


class KeyRecordingModel(ScriptedModel):
    """The scripted model, also recording each request's Authorization header (in arrival order)."""

    def __init__(self, *args, **kwargs):
        self.authorizations: list[str | None] = []
        super().__init__(*args, **kwargs)

    def _handler(self):
        base, model = super()._handler(), self

        class Handler(base):
            def do_POST(self) -> None:
                model.authorizations.append(self.headers.get("authorization"))
                super().do_POST()

        return Handler


def allowed_bedrock_models(template_stack) -> list[str]:
    default = template_stack.template["Parameters"]["BedrockModelIds"]["Default"]
    return [part.strip() for part in default.split(",") if part.strip()]


@pytest.fixture
def scripted(monkeypatch):
    monkeypatch.setenv("PARLEY_SECRETS_BACKEND", "env")
    config.reset()  # settings are read once per process
    with KeyRecordingModel("one_tool") as server:
        # the worker's own Bedrock client, sent to the scripted server instead of AWS
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.endpoint)
        aws.reset_clients()
        yield server
    aws.reset_clients()


def ask(api, drain, conversation: int, question: str = QUESTION) -> tuple[str, dict, dict]:
    path = f"/api/conversations/{conversation}"
    sent = api.post(path, {"question_message": question})
    assert sent.status == 202, sent.json()
    drain()
    task = sent.json()["task_id"]
    return task, api.get(f"/api/task_status/{task}").json(), api.get(path).json()["history"][-1]


def check_catalog_answer(reply: dict) -> None:
    """The one_tool scenario: one catalog tool call, then an answer naming what the tool found."""
    assert reply["role"] == "agent"
    assert reply["text"].startswith("From the catalog: "), reply["text"]
    assert len(reply["steps"]) == 1 and reply["steps"][0]["result_count"] > 0
    assert reply["sources"]


def bedrock_calls(scripted: ScriptedModel, start: int) -> list[str]:
    return [unquote(path) for api, path, _ in scripted.requests[start:] if api == "bedrock"]


def test_an_allowed_bedrock_model_answers_through_the_worker_with_converse(admin, drain, scripted, template_stack):
    model = allowed_bedrock_models(template_stack)[0]
    assert admin.patch(SETTINGS, {"provider": "bedrock", "model": model}).status == 200
    conversation = admin.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    start = len(scripted.requests)

    _, status, reply = ask(admin, drain, conversation)

    assert status["state"] == "SUCCESS", status
    check_catalog_answer(reply)
    # nobody is subscribed to the conversation: plain Converse calls (a tool round, then the answer)
    assert bedrock_calls(scripted, start) == [f"/model/{model}/converse"] * 2


def test_an_allowed_bedrock_model_streams_to_a_subscriber_with_converse_stream(
    admin,
    drain,
    scripted,
    template_stack,
    ws,
):
    model = allowed_bedrock_models(template_stack)[-1]
    assert admin.patch(SETTINGS, {"provider": "bedrock", "model": model}).status == 200
    conversation = admin.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    start = len(scripted.requests)
    with open_socket(ws, admin.token) as socket:
        socket.send(json.dumps({"action": "subscribe", "conversation_id": conversation}))
        assert json.loads(socket.recv(timeout=10))["type"] == "subscribed"
        task, status, reply = ask(admin, drain, conversation)
        events = events_until_done(socket)

    assert status["state"] == "SUCCESS", status
    check_catalog_answer(reply)
    assert bedrock_calls(scripted, start) == [f"/model/{model}/converse-stream"] * 2
    kinds = [e["type"] for e in events]
    assert kinds[0] == "task.started" and "step" in kinds and kinds[-1] == "message.completed", kinds
    assert "".join(e["text"] for e in events if e["type"] == "delta") == reply["text"]  # streamed as it came
    assert events[-1]["message"] == reply and {e["task_id"] for e in events} == {task}


def test_an_openai_compatible_key_is_read_from_secrets_manager(admin, drain, scripted, monkeypatch):
    monkeypatch.setenv("PARLEY_SECRETS_BACKEND", "aws")  # the AWS default
    monkeypatch.setenv("SECRETS_PREFIX", "parley/")  # the stack's prefix, `<stack name>/`
    monkeypatch.setenv("PROVIDER_HTTP_HOSTS", "127.0.0.1")  # the scripted model over http on loopback
    config.reset()  # settings are read once per process
    secrets.clear_cache()  # a key cached by an earlier test would skip the read
    secret = "parley/scripted-openai"
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name=secret, SecretString='{"api_key": "sk-from-secrets-manager-81"}'
    )
    settings = {
        "provider": "openai",
        "model": "scripted-one_tool",
        "base_url": scripted.base_url,
        "api_key_secret": secret,
    }
    changed = admin.patch(SETTINGS, settings)
    assert changed.status == 200, changed.json()
    conversation = admin.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    start = len(scripted.requests)

    try:
        _, status, reply = ask(admin, drain, conversation)
    finally:
        secrets.clear_cache()

    assert status["state"] == "SUCCESS", status
    check_catalog_answer(reply)
    assert [api for api, _, _ in scripted.requests[start:]] == ["openai", "openai"]
    assert scripted.authorizations[start:] == ["Bearer sk-from-secrets-manager-81"] * 2


def test_a_bedrock_model_outside_bedrock_model_ids_is_denied_and_never_called(admin, drain, scripted, monkeypatch):
    monkeypatch.setenv("JOB_MAX_TRIES", "1")
    config.reset()  # settings are read once per process
    assert admin.patch(SETTINGS, {"provider": "bedrock", "model": "scripted-one_tool"}).status == 200
    conversation = admin.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    start = len(scripted.requests)

    _, status, notice = ask(admin, drain, conversation)

    assert status["state"] == "FAILURE" and status["error"]["code"] == "provider_error", status
    assert "BedrockModelIds" in status["error"]["message"] and notice["role"] == "system"
    assert scripted.requests[start:] == []  # refused by IAM before any request left
