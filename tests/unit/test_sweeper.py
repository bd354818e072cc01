"""The scheduled sweeper: lost jobs are re-enqueued, stuck tasks end as FAILURE with code "timeout"."""

from __future__ import annotations

import time

import boto3

from parley.logic import sweeper


def scheduled_event() -> dict:
    return {
        "version": "0",
        "id": "1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-23T00:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/Every5Minutes"],
        "detail": {},
    }


def purge(cloud) -> None:
    """Lose every queued job, as if SQS had dropped them."""
    sqs = boto3.client("sqs")
    while True:
        messages = sqs.receive_message(QueueUrl=cloud.pump.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return
        for message in messages:
            sqs.delete_message(QueueUrl=cloud.pump.queue_url, ReceiptHandle=message["ReceiptHandle"])


def run_sweeper(cloud, gateway, now: float) -> dict:
    import unittest.mock

    with unittest.mock.patch.object(sweeper.time, "time", return_value=now):
        return gateway.pools["SweeperFunction"].invoke(scheduled_event())


def test_a_lost_job_is_requeued_then_answered(cloud, gateway, user, drain):
    conversation = user.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    task = user.post(f"/api/conversations/{conversation}", {"question_message": "Is there an SLA?"}).json()["task_id"]
    purge(cloud)
    assert run_sweeper(cloud, gateway, time.time()) == {"requeued": 0, "timed_out": 0}  # too young
    assert run_sweeper(cloud, gateway, time.time() + 901) == {"requeued": 1, "timed_out": 0}
    assert run_sweeper(cloud, gateway, time.time() + 902) == {"requeued": 0, "timed_out": 0}  # once only
    drain()
    assert user.get(f"/api/task_status/{task}").json()["state"] == "SUCCESS"
    assert run_sweeper(cloud, gateway, time.time() + 5000) == {"requeued": 0, "timed_out": 0}  # finished


def test_a_task_still_stuck_after_the_requeue_times_out_with_a_notice(cloud, gateway, user):
    conversation = user.post("/api/conversations", {"data_set_id": 1}).json()["id"]
    task = user.post(f"/api/conversations/{conversation}", {"question_message": "Is there an SLA?"}).json()["task_id"]
    start = time.time()
    assert run_sweeper(cloud, gateway, start + 1000)["requeued"] == 1
    purge(cloud)
    assert run_sweeper(cloud, gateway, start + 1500)["timed_out"] == 0
    assert run_sweeper(cloud, gateway, start + 2000)["timed_out"] == 1
    status = user.get(f"/api/task_status/{task}").json()
    assert status["state"] == "FAILURE" and status["error"]["code"] == "timeout"
    history = user.get(f"/api/conversations/{conversation}").json()["history"]
    assert [m["role"] for m in history] == ["user", "system"]


def test_stuck_loads_time_out_too(cloud, gateway, admin):
    task = admin.post("/api/data_sets/1/products", {"products": [{"sku": "X", "name": "X"}]}).json()["task_id"]
    purge(cloud)
    start = time.time()
    run_sweeper(cloud, gateway, start + 1000)
    purge(cloud)
    assert run_sweeper(cloud, gateway, start + 2000)["timed_out"] == 1
    assert admin.get(f"/api/task_status/{task}").json()["error"]["code"] == "timeout"
