"""The local queue is as strict as SQS FIFO, and the queue pump as Lambda's SQS event source mapping.

The queue is template.yaml's JobsQueue (with its RedrivePolicy) on moto, the emulation `make dev` runs. The
FIFO rules are moto's own; these tests hold it to SQS's: a message group is blocked while a message of it is in
flight, receive counts are exact, visibility timeouts and ChangeMessageVisibility are honoured, and a message
goes to the dead-letter queue after maxReceiveCount deliveries. The pump's part: a failed invocation (a crashed
environment too) deletes nothing, and with ReportBatchItemFailures the reported records and those after them
in their group stay. Its consumer here is the probe function (tests/fixtures/functions/probe) in a process."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from parley_local.runtime import ProcessPool
from parley_local.template import ROOT, Function


@pytest.fixture
def jobs(cloud) -> dict[str, Any]:
    sqs = cloud.pump.sqs
    url = cloud.physical["JobsQueue"]["Ref"]
    dead = cloud.physical["JobsDeadLetterQueue"]["Ref"]
    max_receives = json.loads(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    )["maxReceiveCount"]
    return {"sqs": sqs, "url": url, "dead": dead, "max_receives": int(max_receives)}


def send(jobs: dict[str, Any], group: str, body: dict[str, Any]) -> str:
    return jobs["sqs"].send_message(
        QueueUrl=jobs["url"],
        MessageBody=json.dumps(body),
        MessageGroupId=group,
        MessageDeduplicationId=json.dumps([group, body]),
    )["MessageId"]


def receive(jobs: dict[str, Any], count: int = 10, visibility: int | None = None) -> list[dict[str, Any]]:
    extra = {} if visibility is None else {"VisibilityTimeout": visibility}
    return (
        jobs["sqs"]
        .receive_message(QueueUrl=jobs["url"], MaxNumberOfMessages=count, MessageSystemAttributeNames=["All"], **extra)
        .get("Messages", [])
    )


def receive_count(message: dict[str, Any]) -> int:
    return int(message["Attributes"]["ApproximateReceiveCount"])


def bodies(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in messages]


def test_a_group_is_blocked_while_a_message_of_it_is_in_flight(jobs):
    send(jobs, "a", {"n": 1})
    send(jobs, "a", {"n": 2})
    send(jobs, "b", {"n": 3})
    (first,) = receive(jobs, count=1)
    assert bodies([first]) == [{"n": 1}]
    assert bodies(receive(jobs)) == [{"n": 3}]  # group a waits for its message 1
    assert receive(jobs) == []
    jobs["sqs"].delete_message(QueueUrl=jobs["url"], ReceiptHandle=first["ReceiptHandle"])
    (second,) = receive(jobs)
    assert bodies([second]) == [{"n": 2}] and receive_count(second) == 1


def test_receive_counts_are_exact_and_visibility_timeouts_are_honoured(jobs):
    send(jobs, "a", {"n": 1})
    send(jobs, "a", {"n": 2})
    (message,) = receive(jobs, count=1, visibility=1)
    assert bodies([message]) == [{"n": 1}] and receive_count(message) == 1
    assert receive(jobs) == []  # in flight for 1 s: its group is blocked
    time.sleep(1.2)
    (message,) = receive(jobs, count=1)  # the timeout passed: delivered again, first in its group
    assert bodies([message]) == [{"n": 1}] and receive_count(message) == 2
    jobs["sqs"].change_message_visibility(
        QueueUrl=jobs["url"], ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )  # released at once
    (message,) = receive(jobs, count=1)
    assert bodies([message]) == [{"n": 1}] and receive_count(message) == 3
    jobs["sqs"].delete_message(QueueUrl=jobs["url"], ReceiptHandle=message["ReceiptHandle"])
    (message,) = receive(jobs)
    assert bodies([message]) == [{"n": 2}] and receive_count(message) == 1


def test_a_timed_out_batch_of_a_group_comes_back_in_order(jobs):
    for n in (1, 2, 3):
        send(jobs, "a", {"n": n})
    assert bodies(receive(jobs, visibility=1)) == [{"n": 1}, {"n": 2}, {"n": 3}]
    time.sleep(1.2)
    assert bodies(receive(jobs)) == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_a_message_moves_to_the_dead_letter_queue_after_max_receive_count(jobs):
    send(jobs, "a", {"n": 1})
    send(jobs, "a", {"n": 2})
    for delivery in range(1, jobs["max_receives"] + 1):
        (message,) = receive(jobs, count=1)
        assert bodies([message]) == [{"n": 1}] and receive_count(message) == delivery
        jobs["sqs"].change_message_visibility(
            QueueUrl=jobs["url"], ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    (nxt,) = receive(jobs, count=1)  # message 1 has had its deliveries: it is redriven, its group moves on
    assert bodies([nxt]) == [{"n": 2}] and receive_count(nxt) == 1
    dead = jobs["sqs"].receive_message(QueueUrl=jobs["dead"], MessageSystemAttributeNames=["All"])["Messages"]
    assert bodies(dead) == [{"n": 1}]


@pytest.fixture
def probe_pump(cloud):
    """The queue pump of the stack with the probe function as its consumer, each environment a process."""
    function = Function("ProbeFunction", ROOT / "tests/fixtures/functions/probe", "app.lambda_handler", 128, 5)
    pool = ProcessPool(function, 1)
    cloud.pump.pool = pool
    yield cloud.pump
    pool.close()


def in_queue(jobs: dict[str, Any]) -> dict[str, int]:
    attributes = jobs["sqs"].get_queue_attributes(QueueUrl=jobs["url"], AttributeNames=["All"])["Attributes"]
    return {
        "visible": int(attributes["ApproximateNumberOfMessages"]),
        "in_flight": int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    }


def redeliver(jobs: dict[str, Any]) -> list[dict[str, Any]]:
    """What SQS delivers once the pump's batch has passed its visibility timeout (made 1 s here)."""
    time.sleep(1.2)
    return receive(jobs)


def test_reported_failures_and_the_rest_of_their_group_stay_in_the_queue(jobs, probe_pump):
    jobs["sqs"].set_queue_attributes(QueueUrl=jobs["url"], Attributes={"VisibilityTimeout": "1"})
    send(jobs, "a", {"n": 1})
    send(jobs, "a", {"n": 2, "fail": True})
    send(jobs, "a", {"n": 3})  # succeeds in the probe, which does not report it: the pump must keep it
    send(jobs, "b", {"n": 4})
    assert probe_pump.drain_once() == 4
    assert in_queue(jobs) == {"visible": 0, "in_flight": 2}
    kept = redeliver(jobs)
    assert bodies(kept) == [{"n": 2, "fail": True}, {"n": 3}]
    assert [receive_count(m) for m in kept] == [2, 2]


def test_a_crashed_environment_deletes_nothing_and_the_batch_is_delivered_again(jobs, probe_pump):
    jobs["sqs"].set_queue_attributes(QueueUrl=jobs["url"], Attributes={"VisibilityTimeout": "1"})
    send(jobs, "a", {"n": 1})
    send(jobs, "b", {"n": 2, "crash": True})
    assert probe_pump.drain_once() == 2
    assert in_queue(jobs) == {"visible": 0, "in_flight": 2}
    again = redeliver(jobs)
    assert sorted(m["n"] for m in bodies(again)) == [1, 2] and {receive_count(m) for m in again} == {2}


def test_an_invalid_batch_item_failure_fails_the_whole_batch(cloud):
    pump = cloud.pump
    received = [
        {"MessageId": "m1", "Attributes": {"MessageGroupId": "a"}},
        {"MessageId": "m2", "Attributes": {"MessageGroupId": "b"}},
    ]
    assert pump.succeeded(received, {"batchItemFailures": [{"itemIdentifier": "nope"}]}) == []
    assert pump.succeeded(received, {"batchItemFailures": [{"itemIdentifier": ""}]}) == []
    assert pump.succeeded(received, {"batchItemFailures": []}) == received
    assert pump.succeeded(received, None) == received
