"""`make dev` with `make scripted-model` beside it: the local stack in a subprocess answers through the scripted
model over real HTTP, with the OpenAI-compatible provider and with Bedrock (the worker's own bedrock-runtime
client sent to the scripted server by AWS_ENDPOINT_URL_BEDROCK_RUNTIME), as docs/providers.md describes."""

from __future__ import annotations

import time

import pytest

from parley_local.scripted_model import ScriptedModel

from .conftest import BACKENDS, start_stack, stop_stack


@pytest.fixture(scope="module")
def scripted():
    with ScriptedModel("one_tool") as server:
        yield server


@pytest.fixture(scope="module", params=list(BACKENDS))
def stack_with_model(request, tmp_path_factory, scripted):
    env = {"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": scripted.endpoint, "SCRIPTED_KEY": "unused"}
    stack = start_stack(tmp_path_factory.mktemp(f"scripted-{request.param}"), BACKENDS[request.param], env=env)
    yield stack
    stop_stack(stack)


def answered(client, conversation: int, question: str) -> tuple[dict, dict]:
    task = client.post(f"/api/conversations/{conversation}", json={"question_message": question}).json()["task_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = client.get(f"/api/task_status/{task}").json()
        if status["state"] != "PENDING":
            return status, client.get(f"/api/conversations/{conversation}").json()["history"][-1]
        time.sleep(0.1)
    raise AssertionError("the task stayed PENDING")


@pytest.mark.parametrize(
    "settings",
    [
        {"provider": "openai", "model": "scripted-parallel", "api_key_secret": "SCRIPTED_KEY"},
        {"provider": "bedrock", "model": "scripted-parallel"},
    ],
    ids=["openai", "bedrock"],
)
def test_the_local_stack_answers_through_the_scripted_model(stack_with_model, scripted, settings):
    if settings["provider"] == "openai":
        settings = {**settings, "base_url": scripted.base_url}
    with stack_with_model.client() as client:
        assert client.patch("/api/data_sets/1/settings", json=settings).status_code == 200
        conversation = client.post("/api/conversations", json={"data_set_id": 1}).json()["id"]
        start = len(scripted.requests)
        status, reply = answered(client, conversation, "Which plans include an SLA?")
        assert status["state"] == "SUCCESS", status
        assert [s["tool"] for s in reply["steps"]] == ["search_products", "search_documents"]
        assert reply["text"].startswith("From the catalog: ") and reply["sources"]
        assert [api for api, _, _ in scripted.requests[start:]] == [settings["provider"]] * 2

        runaway = {**settings, "model": "scripted-runaway", "max_steps": 2}
        assert client.patch("/api/data_sets/1/settings", json=runaway).status_code == 200
        status, notice = answered(client, conversation, "And which is the fastest?")
        assert status["state"] == "FAILURE" and status["error"]["code"] == "agent_step_limit"
        assert notice["role"] == "system"
