"""Idempotency-Key on the POST routes that create something (send, create conversation, loads): the same key
with the same request within 24 hours gets the first response and writes nothing; the same key with another
request is a 422; keys are per account; a request without the header writes no claim."""

from __future__ import annotations

import boto3
import pytest

from parley.dal import idempotency


def tasks_table(cloud) -> list[dict]:
    return boto3.client("dynamodb").scan(TableName=cloud.environment()["TASKS_TABLE"])["Items"]


def claims(cloud) -> int:
    return sum(item["task_id"]["S"].startswith("IDEM#") for item in tasks_table(cloud))


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


@pytest.fixture
def conversation(user) -> str:
    return f"/api/conversations/{user.post('/api/conversations', {'data_set_id': 1}).json()['id']}"


def test_a_retried_send_returns_the_first_response_and_asks_once(user, conversation, drain, cloud):
    first = user.post(conversation, {"question_message": "SLA?"}, headers=key("send-1"))
    again = user.post(conversation, {"question_message": "SLA?"}, headers=key("send-1"))
    assert first.status == again.status == 202 and again.json() == first.json()
    assert drain() == 1  # one job queued, one answer
    history = user.get(conversation).json()["history"]
    assert [m["role"] for m in history] == ["user", "agent"]
    assert claims(cloud) == 1


@pytest.mark.parametrize("change", ["body", "path"])
def test_the_same_key_for_another_request_is_422(change, user, conversation, cloud):
    assert user.post(conversation, {"question_message": "SLA?"}, headers=key("k")).status == 202
    before = len(tasks_table(cloud))
    if change == "body":
        response = user.post(conversation, {"question_message": "Price?"}, headers=key("k"))
    else:
        other = user.post("/api/conversations", {"data_set_id": 1}).json()["id"]
        response = user.post(f"/api/conversations/{other}", {"question_message": "SLA?"}, headers=key("k"))
    assert response.status == 422 and "Idempotency-Key" in response.json()["detail"]
    assert len(tasks_table(cloud)) == before
    assert len(user.get(conversation).json()["history"]) == 1


def test_keys_belong_to_their_account(user, make_user, conversation):
    other = make_user([1])
    theirs = f"/api/conversations/{other.post('/api/conversations', {'data_set_id': 1}).json()['id']}"
    mine = user.post(conversation, {"question_message": "SLA?"}, headers=key("shared"))
    their = other.post(theirs, {"question_message": "SLA?"}, headers=key("shared"))
    assert mine.status == their.status == 202 and mine.json() != their.json()


def test_a_key_is_free_again_after_24_hours(user, conversation, monkeypatch):
    first = user.post(conversation, {"question_message": "SLA?"}, headers=key("day"))
    now = idempotency._now()
    monkeypatch.setattr(idempotency, "_now", lambda: now + idempotency.WINDOW_SECONDS + 1)
    later = user.post(conversation, {"question_message": "Price?"}, headers=key("day"))
    assert later.status == 202 and later.json() != first.json()


def test_a_retried_create_returns_the_same_conversation(user, cloud):
    first = user.post("/api/conversations", {"data_set_id": 1}, headers=key("create-1"))
    again = user.post("/api/conversations", {"data_set_id": 1}, headers=key("create-1"))
    assert first.status == again.status == 201 and again.json() == first.json()
    assert [c["id"] for c in user.get("/api/conversations").json()["results"]] == [first.json()["id"]]
    other = user.post("/api/conversations", {"data_set_id": 1}, headers=key("create-2"))
    assert other.status == 201 and other.json()["id"] != first.json()["id"]
    changed = user.post("/api/conversations", {"data_set_id": 1, "title": "x"}, headers=key("create-1"))
    assert changed.status == 422


@pytest.mark.parametrize(
    "kind,body",
    [
        ("products", {"products": [{"sku": "k1", "name": "Kettle"}]}),
        ("documents", {"documents": [{"title": "Returns", "content": "30 days."}]}),
    ],
)
def test_a_retried_load_returns_the_first_task(kind, body, admin, drain, cloud):
    path = f"/api/data_sets/1/{kind}"
    first = admin.post(path, body, headers=key(f"load-{kind}"))
    again = admin.post(path, body, headers=key(f"load-{kind}"))
    assert first.status == again.status == 202 and again.json() == first.json()
    assert sum(not i["task_id"]["S"].startswith("IDEM#") for i in tasks_table(cloud)) == 1
    assert drain() == 1
    changed = admin.post(path, {kind: [{**body[kind][0], "title": "Other", "sku": "k2"}]}, headers=key(f"load-{kind}"))
    assert changed.status == 422


def test_requests_without_the_header_write_no_claim(user, admin, conversation, cloud):
    user.post(conversation, {"question_message": "SLA?"})
    user.post("/api/conversations", {"data_set_id": 1})
    admin.post("/api/data_sets/1/products", {"products": [{"sku": "k1", "name": "Kettle"}]})
    assert claims(cloud) == 0


@pytest.mark.parametrize("value", ["x" * 256, "caf\u00e9", "two words"])
def test_a_malformed_key_is_400(value, user, conversation, cloud):
    before = len(tasks_table(cloud))
    response = user.call(
        "POST",
        conversation,
        raw=b'{"question_message": "SLA?"}',
        headers={"Idempotency-Key": value.encode("utf-8").decode("latin-1")},
    )
    assert response.status == 400 and "Idempotency-Key" in response.json()["detail"]
    assert len(tasks_table(cloud)) == before


def test_a_send_that_could_not_be_queued_frees_its_key(user, conversation, monkeypatch, drain):
    from parley.dal import jobs

    def unavailable(*args, **kwargs):
        raise RuntimeError("queue down")

    with monkeypatch.context() as patched:
        patched.setattr(jobs, "enqueue", unavailable)
        failed = user.post(conversation, {"question_message": "SLA?"}, headers=key("retry-me"))
    assert failed.status == 503
    retried = user.post(conversation, {"question_message": "SLA?"}, headers=key("retry-me"))
    assert retried.status == 202
    assert user.get(f"/api/task_status/{retried.json()['task_id']}").json()["state"] == "PENDING"
    assert drain() == 1


@pytest.mark.parametrize(
    "kind,body",
    [
        ("products", {"products": [{"sku": "k1", "name": "Kettle"}]}),
        ("documents", {"documents": [{"title": "Returns", "content": "30 days."}]}),
    ],
)
def test_a_load_that_could_not_be_queued_fails_its_task_and_frees_its_key(kind, body, admin, drain, cloud, monkeypatch):
    from parley.dal import jobs

    def unavailable(*args, **kwargs):
        raise RuntimeError("queue down")

    path = f"/api/data_sets/1/{kind}"
    with monkeypatch.context() as patched:
        patched.setattr(jobs, "enqueue", unavailable)
        failed = admin.post(path, body, headers=key(f"unqueued-{kind}"))
    assert failed.status == 503
    loads = [i for i in tasks_table(cloud) if not i["task_id"]["S"].startswith("IDEM#")]
    assert [(t["state"]["S"], t["error"]["M"]["code"]["S"]) for t in loads] == [("FAILURE", "enqueue_failed")]
    assert claims(cloud) == 0  # the key was freed: a retry runs the load again
    retried = admin.post(path, body, headers=key(f"unqueued-{kind}"))
    assert retried.status == 202 and retried.json()["task_id"] != loads[0]["task_id"]["S"]
    assert drain() == 1
    assert admin.get(f"/api/task_status/{retried.json()['task_id']}").json()["state"] == "SUCCESS"
