"""DELETE /api/conversations/{id}: the owner removes a conversation with its messages and tasks (204); to
anyone else it is a 404 and nothing changes; afterwards the conversation and its tasks answer 404."""

from __future__ import annotations

import boto3
import pytest


def items_of(cloud, conversation_id: int) -> int:
    env = cloud.environment()
    return boto3.client("dynamodb").query(
        TableName=env["CONVERSATIONS_TABLE"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"CONV#{conversation_id}"}},
        Select="COUNT",
    )["Count"]


def task_count(cloud) -> int:
    return boto3.client("dynamodb").scan(TableName=cloud.environment()["TASKS_TABLE"], Select="COUNT")["Count"]


@pytest.fixture
def answered(user, drain) -> tuple[int, list[str]]:
    """A conversation of 15 answered questions: 30 messages, more than one BatchWriteItem of 25."""
    conversation = user.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    tasks = [
        user.post(f"/api/conversations/{conversation}", {"question_message": f"Question {i}?"}).json()["task_id"]
        for i in range(15)
    ]
    drain()
    return conversation, tasks


def test_the_owner_deletes_a_conversation_its_messages_and_tasks(user, answered, cloud):
    conversation, tasks = answered
    assert items_of(cloud, conversation) == 31
    response = user.call("DELETE", f"/api/conversations/{conversation}")
    assert response.status == 204 and response.body == b""
    assert items_of(cloud, conversation) == 0 and task_count(cloud) == 0
    assert user.get(f"/api/conversations/{conversation}").status == 404
    for task in tasks:
        assert user.get(f"/api/task_status/{task}").status == 404
    assert user.post(f"/api/conversations/{conversation}", {"question_message": "Still there?"}).status == 404
    assert user.get("/api/conversations").json()["results"] == []
    assert user.call("DELETE", f"/api/conversations/{conversation}").status == 404


def test_anyone_else_gets_404_and_nothing_changes(user, make_user, admin, answered, cloud):
    conversation, _tasks = answered
    for other in (make_user([1]), admin):
        assert other.call("DELETE", f"/api/conversations/{conversation}").status == 404
    assert items_of(cloud, conversation) == 31 and task_count(cloud) == 15
    assert len(user.get(f"/api/conversations/{conversation}").json()["history"]) == 30


def test_other_conversations_are_untouched(user, answered, cloud):
    conversation, _ = answered
    kept = user.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    user.post(f"/api/conversations/{kept}", {"question_message": "Keep me?"})
    assert user.call("DELETE", f"/api/conversations/{conversation}").status == 204
    assert [c["id"] for c in user.get("/api/conversations").json()["results"]] == [kept]
    assert items_of(cloud, kept) == 2 and task_count(cloud) == 1


def test_a_question_still_queued_is_dropped_without_leaving_anything(user, drain, cloud):
    conversation = user.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    task = user.post(f"/api/conversations/{conversation}", {"question_message": "SLA?"}).json()["task_id"]
    assert user.call("DELETE", f"/api/conversations/{conversation}").status == 204
    drain()  # the job is still in the queue: the worker finds no task and writes nothing
    assert items_of(cloud, conversation) == 0 and task_count(cloud) == 0
    assert user.get(f"/api/task_status/{task}").status == 404


@pytest.mark.parametrize("raw_id", ["0", "abc", "9007199254740992"])
def test_bad_ids_are_404(raw_id, user):
    assert user.call("DELETE", f"/api/conversations/{raw_id}").status == 404
