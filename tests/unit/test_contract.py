"""The wire contract of ../shared/seed/conversation-via-api.md, through API Gateway events."""

from __future__ import annotations

import re
import uuid

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
QUESTION = "Does FiberUP Business Duplex include an SLA?"


def test_create_conversation_returns_201_with_id_and_utc_start(user):
    response = user.post("/api/conversations", {"data_set_id": 1})
    assert response.status == 201
    body = response.json()
    assert isinstance(body["id"], int) and 0 < body["id"] <= 2**53 - 1
    assert ISO_Z.match(body["started_at"])


def test_full_turn_answers_the_sla_question_with_grounded_sources(user, drain):
    conversation = user.post("/api/conversations", {"data_set_id": 1}).json()
    sent = user.post(f"/api/conversations/{conversation['id']}", {"question_message": QUESTION, "data_set_id": 1})
    assert sent.status == 202
    task_id = sent.json()["task_id"]
    assert uuid.UUID(task_id)
    assert user.get(f"/api/task_status/{task_id}").json()["state"] == "PENDING"

    assert drain() == 1
    status = user.get(f"/api/task_status/{task_id}")
    assert status.status == 200 and status.json()["state"] == "SUCCESS"

    read = user.get(f"/api/conversations/{conversation['id']}").json()
    assert read["id"] == conversation["id"]
    assert read["started_at"] == conversation["started_at"]
    assert read["summary"] == QUESTION
    assert read["data_set_id"] == 1
    question, answer = read["history"]
    assert question["role"] == "user" and question["text"] == QUESTION
    assert answer["role"] == "agent" and answer["id"] > question["id"]
    assert answer["text"].startswith("Yes") and "FiberUP Business Duplex" in answer["text"] and "SLA" in answer["text"]
    assert {"type": "product", "id": "FU-BIZ-DUPLEX"}.items() <= answer["sources"][0].items()
    for message in read["history"]:
        assert set(message) >= {"id", "text", "role", "created_at"} and ISO_Z.match(message["created_at"])


def test_summary_is_null_before_the_first_question(user):
    conversation = user.post("/api/conversations", {"data_set_id": 1}).json()
    read = user.get(f"/api/conversations/{conversation['id']}").json()
    assert read["summary"] is None and read["history"] == []


def test_data_set_id_may_be_omitted_on_send_but_must_match_when_given(user, admin, drain):
    other = admin.post("/api/data_sets", {"name": "Other"}).json()
    conversation = user.post("/api/conversations", {"data_set_id": 1}).json()
    path = f"/api/conversations/{conversation['id']}"
    assert user.post(path, {"question_message": "What mobile plans do you have?"}).status == 202
    mismatch = user.post(path, {"question_message": "Hi", "data_set_id": other["id"]})
    assert mismatch.status == 400 and "data_set_id" in mismatch.json()["detail"]
    drain()
    history = user.get(path).json()["history"]
    assert [m["role"] for m in history] == ["user", "agent"]


def test_follow_up_questions_are_answered_in_order_with_increasing_ids(user, drain):
    conversation = user.post("/api/conversations", {"data_set_id": 1}).json()
    path = f"/api/conversations/{conversation['id']}"
    questions = [
        "Does FiberUP Business Duplex include an SLA?",
        "What are the roaming charges outside the EU?",
        "How do I cancel my contract?",
    ]
    tasks = [user.post(path, {"question_message": q}).json()["task_id"] for q in questions]
    drain()
    assert all(user.get(f"/api/task_status/{t}").json()["state"] == "SUCCESS" for t in tasks)
    history = user.get(path).json()["history"]
    assert [m["role"] for m in history] == ["user", "agent"] * 3
    assert [m["text"] for m in history[::2]] == questions
    ids = [m["id"] for m in history]
    assert ids == sorted(ids) and len(set(ids)) == 6


def test_list_conversations_newest_first_with_cursor_pages_and_data_set_filter(user, admin):
    other = admin.post("/api/data_sets", {"name": "Other"}).json()
    user_with_both = user
    created = [user.post("/api/conversations", {"data_set_id": 1}).json()["id"] for _ in range(5)]
    admin_conv = admin.post("/api/conversations", {"data_set_id": other["id"]}).json()["id"]

    first = user_with_both.get("/api/conversations?limit=2").json()
    assert [c["id"] for c in first["results"]] == created[::-1][:2]
    assert first["next_cursor"]
    second = user.get(f"/api/conversations?limit=2&cursor={first['next_cursor']}").json()
    third = user.get(f"/api/conversations?limit=2&cursor={second['next_cursor']}").json()
    exact = user.get("/api/conversations?limit=5").json()
    assert len(exact["results"]) == 5 and exact["next_cursor"] is None  # no cursor to an empty page
    seen = [c["id"] for page in (first, second, third) for c in page["results"]]
    assert seen == created[::-1] and third["next_cursor"] is None
    assert admin_conv not in seen

    filtered = admin.get(f"/api/conversations?data_set_id={other['id']}").json()
    assert [c["id"] for c in filtered["results"]] == [admin_conv]
    assert admin.get("/api/conversations?data_set_id=1").json()["results"] == []


def test_data_sets_list_and_counts(user, admin):
    listed = user.get("/api/data_sets").json()["results"]
    assert [d["id"] for d in listed] == [1]
    detail = user.get("/api/data_sets/1").json()
    assert detail["name"] and detail["product_count"] >= 20 and detail["document_count"] >= 3


def test_loading_products_and_documents_is_a_task_and_upserts(admin, drain):
    data_set = admin.post("/api/data_sets", {"name": "Shop"})
    assert data_set.status == 201
    ds = data_set.json()["id"]
    products = [
        {
            "sku": "A-1",
            "name": "Aurora desk lamp",
            "description": "Warm LED lamp",
            "properties": {"watts": 9},
            "categories": ["lighting"],
            "price": 39.5,
        },
        {
            "sku": "B-2",
            "name": "Borealis floor lamp",
            "description": "Tall lamp",
            "properties": {},
            "categories": [],
            "price": 120,
        },
    ]
    task = admin.post(f"/api/data_sets/{ds}/products", {"products": products})
    assert task.status == 202
    assert admin.get(f"/api/task_status/{task.json()['task_id']}").json()["state"] == "PENDING"
    drain()
    done = admin.get(f"/api/task_status/{task.json()['task_id']}").json()
    assert done["state"] == "SUCCESS" and done["result"]["product_count"] == 2

    changed = [{**products[0], "price": 35.0, "description": "Warm dimmable LED lamp"}]
    admin.post(f"/api/data_sets/{ds}/products", {"products": changed})
    docs = [
        {"title": "Returns", "content": "Lamps may be returned within 30 days.", "url": None},
        {"title": "Warranty", "content": "Two years on all lamps.", "url": "https://shop.example/warranty"},
    ]
    admin.post(f"/api/data_sets/{ds}/documents", {"documents": docs})
    admin.post(f"/api/data_sets/{ds}/documents", {"documents": docs[:1]})
    drain()
    counts = admin.get(f"/api/data_sets/{ds}").json()
    assert counts["product_count"] == 2 and counts["document_count"] == 2

    conversation = admin.post("/api/conversations", {"data_set_id": ds}).json()["id"]
    admin.post(f"/api/conversations/{conversation}", {"question_message": "How long can I return a lamp?"})
    drain()
    answer = admin.get(f"/api/conversations/{conversation}").json()["history"][1]
    assert "30 days" in answer["text"]
    assert answer["sources"][0]["title"] == "Returns"


def test_unknown_resources_are_404(user):
    assert user.get("/api/conversations/123").status == 404
    assert user.post("/api/conversations/123", {"question_message": "hi"}).status == 404
    assert user.get(f"/api/task_status/{uuid.uuid4()}").status == 404
    response = user.get("/api/data_sets/999")
    assert response.status in (403, 404) and "detail" in response.json()
