"""Idempotency-Key, history pages and DELETE over real HTTP, on each backend (DynamoDB Local holds Query pages
to 1 MB and returns the item of a failed transaction condition as DynamoDB does)."""

from __future__ import annotations

import uuid


def test_a_retried_send_is_answered_once_and_a_reused_key_is_422(local_stack):
    with local_stack.client() as client:
        conversation = client.post("/api/conversations", json={"data_set_id": 1}).json()["id"]
        path = f"/api/conversations/{conversation}"
        key = {"Idempotency-Key": str(uuid.uuid4())}
        first = client.post(path, json={"question_message": "Is there an SLA?"}, headers=key)
        again = client.post(path, json={"question_message": "Is there an SLA?"}, headers=key)
        assert first.status_code == again.status_code == 202 and first.json() == again.json()
        other = client.post(path, json={"question_message": "What does it cost?"}, headers=key)
        assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]
        history = client.get(path).json()["history"]
        assert [m["text"] for m in history if m["role"] == "user"] == ["Is there an SLA?"]


def test_a_long_history_is_read_in_pages_and_a_deleted_conversation_is_gone(local_stack):
    with local_stack.client() as client:
        conversation = client.post("/api/conversations", json={"data_set_id": 1}).json()["id"]
        path = f"/api/conversations/{conversation}"
        questions = [f"{i:02d}" + "\U0001f600" * 15_998 for i in range(20)]  # 1.3 MB of questions
        tasks = [client.post(path, json={"question_message": q}).json()["task_id"] for q in questions]
        texts, cursor, pages = [], None, 0
        while True:
            page = client.get(path, params={"cursor": cursor} if cursor else None)
            assert page.status_code == 200
            pages += 1
            texts.extend(m["text"] for m in page.json()["history"] if m["role"] == "user")
            cursor = page.json()["history_next_cursor"]
            if not cursor:
                break
        assert pages >= 2 and texts == questions

        assert client.delete(path).status_code == 204
        assert client.get(path).status_code == 404
        assert client.get(f"/api/task_status/{tasks[0]}").status_code == 404
        assert client.delete(path).status_code == 404
