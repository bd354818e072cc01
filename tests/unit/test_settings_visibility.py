"""A data set's answer settings name a provider's URL, the secret holding its key and the system prompt: only
admins see those. Other accounts with access to the data set see which provider and model answer them."""

from __future__ import annotations

SETTINGS = {
    "provider": "openai",
    "model": "gpt-4o-mini",
    "base_url": "https://llm.internal.example/v1",
    "api_key_secret": "parley/openai",
    "system_prompt": "Never mention our margins.",
    "temperature": 0.2,
    "max_tokens": 300,
}
PUBLIC = {"provider": "openai", "model": "gpt-4o-mini"}


def test_non_admins_see_only_provider_and_model(admin, user):
    assert admin.patch("/api/data_sets/1/settings", SETTINGS).status == 200
    assert user.get("/api/data_sets/1").json()["answer_settings"] == PUBLIC
    assert [d["answer_settings"] for d in user.get("/api/data_sets").json()["results"]] == [PUBLIC]
    for text in (user.get("/api/data_sets/1").body, user.get("/api/data_sets").body):
        assert b"internal.example" not in text and b"parley/openai" not in text and b"margins" not in text


def test_admins_see_every_setting(admin):
    admin.patch("/api/data_sets/1/settings", SETTINGS)
    assert admin.get("/api/data_sets/1").json()["answer_settings"] == SETTINGS
    assert admin.get("/api/data_sets").json()["results"][0]["answer_settings"] == SETTINGS


def test_the_offline_engine_shows_just_its_name(admin, user):
    assert user.get("/api/data_sets/1").json()["answer_settings"] == {"provider": "extractive"}
