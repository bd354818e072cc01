"""Responses stay under Lambda's 6 MB result limit: a long history comes back in pages of about 1 MB, oldest
first; list summaries are capped; bodies are UTF-8, not ASCII-escaped."""

from __future__ import annotations

import json

import pytest

LAMBDA_RESULT_LIMIT = 6 * 1024 * 1024


def envelope_bytes(response) -> int:
    """The size of the Lambda result behind a response: the body as a JSON string inside the payload 2.0
    envelope, which the python3.13 runtime writes as UTF-8."""
    envelope = {
        "statusCode": response.status,
        "headers": response.headers,
        "body": response.body.decode(),
        "isBase64Encoded": False,
    }
    return len(json.dumps(envelope, ensure_ascii=False).encode("utf-8", "surrogatepass"))


EMOJI_QUESTION = "\U0001f600" * 16_000  # the longest question allowed, 64 KB in UTF-8, 192 KB ASCII-escaped


@pytest.fixture
def huge_conversation(user) -> tuple[str, list[str]]:
    """30 of the longest questions (answering them is left to the tests that need it: it takes seconds)."""
    path = f"/api/conversations/{user.post('/api/conversations', {'data_set_id': 1}).json()['id']}"
    questions = [f"{i:02d}" + EMOJI_QUESTION[2:] for i in range(30)]
    for question in questions:
        assert user.post(path, {"question_message": question}).status == 202
    return path, questions


def test_a_history_too_big_for_one_response_is_read_page_by_page(user, huge_conversation, drain):
    path, questions = huge_conversation
    drain()
    history, pages, cursor = [], [], None
    while True:
        response = user.get(path + (f"?cursor={cursor}" if cursor else ""))
        assert response.status == 200, response.body[:300]
        assert envelope_bytes(response) < LAMBDA_RESULT_LIMIT
        pages.append(len(response.body))
        page = response.json()
        assert page["summary"] and page["data_set_id"] == 1
        history.extend(page["history"])
        cursor = page["history_next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 20
    assert len(pages) >= 2 and max(pages) <= 1_100_000, pages
    assert [m["text"] for m in history if m["role"] == "user"] == questions
    assert [m["role"] for m in history] == ["user", "agent"] * 30
    ids = [m["id"] for m in history]
    assert ids == sorted(set(ids))  # oldest first, nothing repeated or skipped across pages


def test_bodies_are_utf8_not_ascii_escaped(user, huge_conversation):
    path, _ = huge_conversation
    response = user.get(path)
    assert "\U0001f600".encode("utf-8") in response.body and b"\\ud83d" not in response.body


def test_a_normal_conversation_is_one_page_without_a_cursor(user, drain):
    path = f"/api/conversations/{user.post('/api/conversations', {'data_set_id': 1}).json()['id']}"
    for question in ("What plans do you have?", "How much is it?"):
        user.post(path, {"question_message": question})
    drain()
    read = user.get(path).json()
    assert len(read["history"]) == 4 and read["history_next_cursor"] is None


@pytest.mark.parametrize("cursor", ["%%%", "bm90LWEtbnVtYmVy", "MA"])
def test_a_bad_history_cursor_is_400(cursor, user, huge_conversation):
    response = user.get(f"{huge_conversation[0]}?cursor={cursor}")
    assert response.status == 400 and "cursor" in response.json()["detail"]


def test_another_accounts_history_pages_are_404(user, make_user, huge_conversation):
    path, _ = huge_conversation
    cursor = user.get(path).json()["history_next_cursor"]
    assert cursor
    stranger = make_user([1])
    assert stranger.get(f"{path}?cursor={cursor}").status == 404


def test_list_summaries_are_capped(user):
    question = "\U0001f600" * 16_000
    for _ in range(60):
        conversation = user.post("/api/conversations", {"data_set_id": 1}).json()["id"]
        assert user.post(f"/api/conversations/{conversation}", {"question_message": question}).status == 202
    response = user.get("/api/conversations?limit=100")
    assert response.status == 200
    results = response.json()["results"]
    assert len(results) == 60 and envelope_bytes(response) < 60_000
    assert {len(r["summary"]) for r in results} == {200}
    assert results[0]["summary"] == question[:199] + "\u2026"
    assert user.get(f"/api/conversations/{results[0]['id']}").json()["summary"] == results[0]["summary"]
