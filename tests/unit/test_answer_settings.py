"""Per data set answer settings through the API, and answering with them end to end (API -> queue -> worker
-> a real OpenAI-compatible server on loopback -> history)."""

from __future__ import annotations

import pytest

from parley import config
from parley.dal.conversations import ConversationRepository
from parley_local.scripted_model import ScriptedModel

from .test_providers import FakeOpenAI, fake_openai  # noqa: F401  (fixture)

SLA_QUESTION = "Does FiberUP Business Duplex include an SLA?"
SETTINGS = "/api/data_sets/1/settings"


def openai_settings(fake: FakeOpenAI, **extra) -> dict:
    return {
        "provider": "openai",
        "model": "test-model",
        "base_url": fake.base_url,
        "api_key_secret": "TEST_OPENAI_KEY",
        "max_tokens": 200,
        **extra,
    }


def ask(api, drain, conversation_id: int, question: str) -> tuple[dict, dict]:
    """Send a question, run the worker, return (task status, the last history message)."""
    path = f"/api/conversations/{conversation_id}"
    sent = api.post(path, {"question_message": question})
    assert sent.status == 202
    drain()
    status = api.get(f"/api/task_status/{sent.json()['task_id']}").json()
    return status, api.get(path).json()["history"][-1]


# ------------------------------------------------------------------ settings API


def test_new_data_sets_answer_extractively_and_admins_change_that(admin):
    assert admin.get("/api/data_sets/1").json()["answer_settings"] == {"provider": "extractive"}
    body = {
        "provider": "bedrock",
        "model": "amazon.nova-lite-v1:0",
        "system_prompt": "Be brief.",
        "temperature": 0.3,
        "max_tokens": 512,
    }
    updated = admin.patch(SETTINGS, body)
    assert updated.status == 200, updated.json()
    assert updated.json()["id"] == 1 and updated.json()["answer_settings"] == body
    assert admin.get("/api/data_sets/1").json()["answer_settings"] == body
    listed = {d["id"]: d for d in admin.get("/api/data_sets").json()["results"]}
    assert listed[1]["answer_settings"] == body

    # the whole object is replaced: switching back drops the model settings
    back = admin.patch(SETTINGS, {"provider": "extractive"})
    assert back.status == 200 and back.json()["answer_settings"] == {"provider": "extractive"}


def test_the_view_names_the_key_secret_but_never_holds_a_key(admin, monkeypatch):
    body = {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "base_url": "https://api.openai.com/v1/",
        "api_key_secret": "parley/openai",
    }
    shown = admin.patch(SETTINGS, body).json()["answer_settings"]
    assert shown == {**body, "base_url": "https://api.openai.com/v1"}


def test_only_admins_change_settings_and_unknown_data_sets_are_404(admin, user):
    denied = user.patch(SETTINGS, {"provider": "extractive"})
    assert denied.status == 403 and "admin" in denied.json()["detail"]
    assert admin.patch("/api/data_sets/999/settings", {"provider": "extractive"}).status == 404
    assert admin.patch("/api/data_sets/abc/settings", {"provider": "extractive"}).status == 404
    assert user.get("/api/data_sets/1").json()["answer_settings"] == {"provider": "extractive"}


@pytest.mark.parametrize(
    "body,field",
    [
        ({"provider": "llama-magic"}, "provider"),
        ({"provider": "bedrock"}, "model"),
        ({"provider": "openai", "model": "m", "api_key_secret": "parley/k"}, "base_url"),
        ({"provider": "openai", "model": "m", "base_url": "http://127.0.0.1:11434/v1"}, "api_key_secret"),
        (
            {"provider": "openai", "model": "m", "base_url": "ftp://example.com", "api_key_secret": "parley/k"},
            "base_url",
        ),
        (
            {
                "provider": "openai",
                "model": "m",
                "base_url": "https://u:p@example.com/v1",
                "api_key_secret": "parley/k",
            },
            "base_url",
        ),
        (
            {"provider": "openai", "model": "m", "base_url": "https://example.com/v1", "api_key_secret": "OPENAI_KEY"},
            "api_key_secret",
        ),
        ({"provider": "bedrock", "model": "amazon.nova-lite-v1:0", "temperature": 2.5}, "temperature"),
        ({"provider": "bedrock", "model": "amazon.nova-lite-v1:0", "max_tokens": 0}, "max_tokens"),
        ({"provider": "bedrock", "model": "amazon.nova-lite-v1:0", "max_tokens": 9000}, "max_tokens"),
        ({"provider": "bedrock", "model": "amazon.nova-lite-v1:0", "temperature": "hot"}, "temperature"),
        ({"provider": "bedrock", "model": "has spaces"}, "model"),
    ],
)
def test_bad_settings_are_422_naming_the_field(admin, body, field):
    response = admin.patch(SETTINGS, body)
    assert response.status == 422, response.json()
    assert field in [e["loc"][-1] for e in response.json()["detail"]]
    assert admin.get("/api/data_sets/1").json()["answer_settings"] == {"provider": "extractive"}


def test_settings_body_must_be_a_json_object(admin):
    assert admin.patch(SETTINGS, ["openai"]).status == 400


# ------------------------------------------------------------------ answering with the settings


def test_switching_to_a_provider_and_back_answers_correctly_each_time(admin, drain, fake_openai):
    with ScriptedModel("one_tool") as scripted:
        settings = {**openai_settings(fake_openai), "base_url": scripted.base_url}
        conversation = admin.post("/api/conversations", {"data_set_id": 1}).json()["id"]

        assert admin.patch(SETTINGS, settings).status == 200
        status, reply = ask(admin, drain, conversation, SLA_QUESTION)
        assert status["state"] == "SUCCESS"
        assert reply["role"] == "agent" and reply["text"].startswith("From the catalog: ")
        assert [s["tool"] for s in reply["steps"]] == ["search_products"]
        assert {"type": "product", "id": "FU-BIZ-DUPLEX", "title": "FiberUP Business Duplex", "url": None} in reply[
            "sources"
        ]
        assert len(scripted.requests) == 2

        assert admin.patch(SETTINGS, {"provider": "extractive"}).status == 200
        status, reply = ask(admin, drain, conversation, "What are the roaming charges outside the EU?")
        assert status["state"] == "SUCCESS" and len(scripted.requests) == 2  # the model was not asked
        assert "roaming" in reply["text"].lower() and reply["sources"]

        assert admin.patch(SETTINGS, settings).status == 200
        status, reply = ask(admin, drain, conversation, "How do I cancel my contract?")
        assert status["state"] == "SUCCESS" and reply["steps"][0]["arguments"] == {
            "query": "How do I cancel my contract?"
        }
        # the model sees both earlier turns, whichever engine answered them
        sent = [m["content"] for m in scripted.requests[2][2]["messages"]]
        assert sent[1] == SLA_QUESTION and sent[2].startswith("From the catalog: ")
        assert "[looked up search_products(" in sent[2]
        assert sent[3] == "What are the roaming charges outside the EU?" and "roaming" in sent[4].lower()
        assert sent[5] == "How do I cancel my contract?"

    _, messages = ConversationRepository().read(conversation)
    usage = [m.get("usage") for m in messages if m["role"] == "agent"]
    assert usage[0]["input_tokens"] > 0 and usage[1] == {"input_tokens": 0, "output_tokens": 0}


@pytest.mark.parametrize(
    "reply,code",
    [
        ((429, {"error": "rate limited"}, {"Retry-After": "120"}), "provider_throttled"),
        ((401, {"error": "bad key"}), "provider_error"),
        (("hang", 5), "provider_timeout"),
    ],
)
def test_a_final_provider_failure_fails_the_task_and_leaves_a_system_notice(
    admin, drain, fake_openai, monkeypatch, reply, code
):
    monkeypatch.setenv("JOB_MAX_TRIES", "1")  # the first failure is the last try
    monkeypatch.setenv("WORKER_ANSWER_BUDGET_SECONDS", "1")
    config.reset()  # settings are read once per process
    config.reset()
    fake_openai.replies = [reply]
    assert admin.patch(SETTINGS, openai_settings(fake_openai)).status == 200
    conversation = admin.post("/api/conversations", {"data_set_id": 1}).json()["id"]

    status, notice = ask(admin, drain, conversation, SLA_QUESTION)
    assert status["state"] == "FAILURE" and status["error"]["code"] == code
    history = admin.get(f"/api/conversations/{conversation}").json()["history"]
    assert [(m["role"], m["text"]) for m in history[:1]] == [("user", SLA_QUESTION)]
    assert notice["role"] == "system" and notice["text"] == status["error"]["message"]
    assert "sk-test" not in notice["text"]


def test_a_missing_local_key_is_a_provider_error_not_a_crash(admin, drain, fake_openai, monkeypatch):
    monkeypatch.setenv("JOB_MAX_TRIES", "1")
    monkeypatch.delenv("TEST_OPENAI_KEY")
    config.reset()
    assert admin.patch(SETTINGS, openai_settings(fake_openai)).status == 200
    conversation = admin.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    status, notice = ask(admin, drain, conversation, SLA_QUESTION)
    assert status["error"]["code"] == "provider_error" and "TEST_OPENAI_KEY" in status["error"]["message"]
    assert notice["role"] == "system" and fake_openai.requests == []
