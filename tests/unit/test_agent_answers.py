"""Answers by a tool-calling model end to end: API -> queue -> worker (SQS events) -> the catalog agent's tools
-> the scripted model on loopback (OpenAI-compatible over HTTP, Bedrock through botocore pointed at it) ->
the agent message with its steps, sources and usage. On FiberUP and on a hardware shop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parley import aws, config
from parley.dal.conversations import ConversationRepository
from parley.logic import worker as worker_logic
from parley_local.scripted_model import ScriptedModel
from parley_local.template import Stack

from .test_providers import FakeOpenAI, fake_openai  # noqa: F401  (fixture)
from .test_worker import Crash, agent_messages, invoke, receive

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SETTINGS = "/api/data_sets/{}/settings"


@pytest.fixture
def scripted(monkeypatch):
    monkeypatch.setenv("PARLEY_SECRETS_BACKEND", "env")
    config.reset()  # settings are read once per process
    monkeypatch.setenv("SCRIPTED_KEY", "sk-scripted")
    with ScriptedModel("one_tool") as server:
        # the worker's own Bedrock client, sent to the scripted server instead of AWS
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.endpoint)
        aws.reset_clients()  # the Bedrock client is made again, for the scripted endpoint
        yield server
    aws.reset_clients()


ALLOWED_BEDROCK_MODEL = Stack().parameter_default("BedrockModelIds").split(",")[0]


def settings_for(provider: str, scripted: ScriptedModel, scenario: str, **extra) -> dict:
    if provider == "openai":
        return {
            "provider": "openai",
            "model": f"scripted-{scenario}",
            "base_url": scripted.base_url,
            "api_key_secret": "SCRIPTED_KEY",
            **extra,
        }
    # Bedrock models are checked against the template's BedrockModelIds (the IAM emulation, as on AWS): an
    # allowed id, with the scenario as the scripted server's default
    scripted.scenario = scenario
    return {"provider": "bedrock", "model": ALLOWED_BEDROCK_MODEL, **extra}


def hardware_shop(admin, drain) -> int:
    """The hardware sample as a data set, through the load API (fields the API does not take yet dropped)."""
    data_set = admin.post("/api/data_sets", {"name": "Hardware"}).json()["id"]
    products = []
    for line in (SAMPLES / "hardware" / "products.jsonl").read_text().splitlines():
        item = json.loads(line)
        item.setdefault("price", item.get("sale_price", item.get("regular_price")))
        products.append(item)
    documents = [json.loads(line) for line in (SAMPLES / "hardware" / "documents.jsonl").read_text().splitlines()]
    assert admin.post(f"/api/data_sets/{data_set}/products", {"products": products}).status == 202
    assert admin.post(f"/api/data_sets/{data_set}/documents", {"documents": documents}).status == 202
    drain()
    return data_set


def ask(api, drain, conversation: int, question: str) -> tuple[dict, dict]:
    path = f"/api/conversations/{conversation}"
    sent = api.post(path, {"question_message": question})
    assert sent.status == 202, sent.json()
    drain()
    return api.get(f"/api/task_status/{sent.json()['task_id']}").json(), api.get(path).json()["history"][-1]


CASES = [
    pytest.param(1, "Which plans include an SLA?", "FU-", id="fiberup"),
    pytest.param("hardware", "Which cordless drill drivers do you have?", "BW-", id="hardware"),
]


@pytest.mark.parametrize("provider", ["openai", "bedrock"])
@pytest.mark.parametrize("data_set,question,sku_prefix", CASES)
def test_a_turn_with_the_catalog_tools_stores_its_steps_sources_and_usage_and_follow_ups_see_them(
    admin, drain, scripted, provider, data_set, question, sku_prefix
):
    if data_set == "hardware":
        data_set = hardware_shop(admin, drain)
    assert admin.patch(SETTINGS.format(data_set), settings_for(provider, scripted, "parallel")).status == 200
    conversation = admin.post("/api/conversations", {"data_set_id": data_set}).json()["id"]
    start = len(scripted.requests)

    status, reply = ask(admin, drain, conversation, question)
    assert status["state"] == "SUCCESS", status
    # parallel: search_products and search_documents side by side, then the answer
    assert [s["tool"] for s in reply["steps"]] == ["search_products", "search_documents"]
    assert all(s["arguments"] == {"query": question} and "error" not in s for s in reply["steps"])
    products = [s for s in reply["sources"] if s["type"] == "product"]
    documents = [s for s in reply["sources"] if s["type"] == "document"]
    assert reply["steps"][0]["result_count"] == len(products) > 0
    assert reply["steps"][1]["result_count"] >= 1 and documents
    assert all(s["id"].startswith(sku_prefix) for s in products)
    assert reply["text"].startswith("From the catalog: ") and products[0]["title"] in reply["text"]
    sent = scripted.requests[start:]
    assert len(sent) == 2 and {api for api, _, _ in sent} == {provider}
    _, stored = ConversationRepository().read(conversation)
    usage = stored[-1]["usage"]  # summed over both model calls: each reported at least one token
    assert usage["input_tokens"] >= 2 and usage["output_tokens"] >= 2

    # a follow-up: the earlier answer goes back with a note of its steps and what it drew on
    status, _ = ask(admin, drain, conversation, "And the cheapest of those?")
    assert status["state"] == "SUCCESS"
    body = scripted.requests[-2][2]
    earlier = json.dumps(body["messages"])
    assert "looked up search_products" in earlier and f"product {products[0]['id']}" in earlier


@pytest.mark.parametrize("provider", ["openai", "bedrock"])
def test_a_runaway_model_ends_in_failure_agent_step_limit_after_the_data_sets_budget(admin, drain, scripted, provider):
    assert (
        admin.patch(
            SETTINGS.format(1),
            {
                "provider": "openai",
                "model": "m",
                "base_url": "https://x.example/v1",
                "api_key_secret": "k",
                "max_steps": 21,
            },
        ).status
        == 422
    )
    assert admin.patch(SETTINGS.format(1), {"provider": "bedrock", "model": "m", "max_steps": 0}).status == 422
    changed = admin.patch(SETTINGS.format(1), settings_for(provider, scripted, "runaway", max_steps=2))
    assert changed.status == 200 and changed.json()["answer_settings"]["max_steps"] == 2
    conversation = admin.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    start = len(scripted.requests)

    status, notice = ask(admin, drain, conversation, "Which plan is the fastest?")
    assert status["state"] == "FAILURE" and status["error"]["code"] == "agent_step_limit"
    assert notice["role"] == "system" and notice["text"] == status["error"]["message"]
    assert len(scripted.requests) - start == 3  # two steps, one final call; not redelivered


@pytest.mark.parametrize("provider", ["openai", "bedrock"])
def test_a_provider_error_mid_loop_fails_the_task_with_no_agent_message(admin, drain, scripted, provider, monkeypatch):
    assert admin.patch(SETTINGS.format(1), settings_for(provider, scripted, "provider_error")).status == 200
    conversation = admin.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    status, _notice = ask(admin, drain, conversation, "Which plan is the fastest?")
    assert status["state"] == "FAILURE" and status["error"]["code"] == "provider_error"
    assert [m["role"] for m in admin.get(f"/api/conversations/{conversation}").json()["history"]] == ["user", "system"]


def test_a_crash_mid_loop_then_redelivery_gives_exactly_one_agent_message(cloud, admin, scripted, monkeypatch):
    from parley.providers.openai_compat import OpenAICompatibleProvider

    assert admin.patch(SETTINGS.format(1), settings_for("openai", scripted, "one_tool")).status == 200
    conversation = admin.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    path = f"/api/conversations/{conversation}"
    task = admin.post(path, {"question_message": "Which plans include an SLA?"}).json()["task_id"]
    messages = receive(cloud)

    real_reply = OpenAICompatibleProvider.reply
    calls = []

    def dies_on_the_second_call(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the tool has run; the runtime dies before the model answers
            raise Crash()
        return real_reply(self, *args, **kwargs)

    monkeypatch.setattr(OpenAICompatibleProvider, "reply", dies_on_the_second_call)
    assert invoke(cloud, messages)["batchItemFailures"]
    assert agent_messages(admin, path) == []
    assert admin.get(f"/api/task_status/{task}").json()["state"] == "PENDING"  # as clients see RUNNING

    assert invoke(cloud, messages, receive_count=2) == {"batchItemFailures": []}
    assert invoke(cloud, messages, receive_count=3) == {"batchItemFailures": []}  # a late duplicate
    answers = agent_messages(admin, path)
    assert len(answers) == 1 and answers[0]["role"] == "agent" and len(answers[0]["steps"]) == 1
    assert admin.get(f"/api/task_status/{task}").json()["state"] == "SUCCESS"
    assert len(calls) == 4  # two before the crash, two on the redelivery, none for the duplicate


def test_the_lambda_contexts_remaining_time_bounds_the_answer(admin, drain, fake_openai, monkeypatch):
    from parley_local.runtime import LambdaContext

    monkeypatch.setenv("JOB_MAX_TRIES", "1")
    config.reset()
    fake_openai.replies = [("hang", 8)]  # past the remaining time, inside the answer budget and read timeout
    left = (worker_logic.WRITE_RESERVE_SECONDS + 0.5) * 1000
    monkeypatch.setattr(LambdaContext, "get_remaining_time_in_millis", lambda self: int(left))
    settings = {
        "provider": "openai",
        "model": "test-model",
        "base_url": fake_openai.base_url,
        "api_key_secret": "TEST_OPENAI_KEY",
    }
    assert admin.patch(SETTINGS.format(1), settings).status == 200
    conversation = admin.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    status, notice = ask(admin, drain, conversation, "Which plans include an SLA?")
    assert status["state"] == "FAILURE" and status["error"]["code"] == "provider_timeout"
    assert notice["role"] == "system"
