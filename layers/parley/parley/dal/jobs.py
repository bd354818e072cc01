"""Answer and ingestion jobs on the SQS FIFO queue.

The message group is the conversation (answers in order per conversation) or the data set (ingestions in
order per data set); the deduplication id is the task id, so a retried send is not enqueued twice.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from parley import aws
from parley.config import settings
from parley.dal.dynamo import aws_errors

if TYPE_CHECKING:
    from parley.dal.entities import Task


def group_for(task: Task) -> str:
    """The FIFO group of a task's job: its conversation for answers, its data set for loads."""
    if task["kind"] == "answer":
        return f"conversation-{task['conversation_id']}"
    return f"data-set-{task['data_set_id']}"


def enqueue(kind: str, task_id: str, group: str, deduplication_id: str | None = None) -> None:
    with aws_errors("the job queue"):
        aws.client("sqs").send_message(
            QueueUrl=settings().jobs_queue_url,
            MessageBody=json.dumps({"kind": kind, "task_id": task_id}),
            MessageGroupId=group,
            MessageDeduplicationId=deduplication_id or task_id,
        )


def retry_after(receipts: list[tuple[str, int]]) -> None:
    """Make received jobs visible again after the given seconds (ChangeMessageVisibility, 10 per request)."""
    for start in range(0, len(receipts), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
            for i, (handle, seconds) in enumerate(receipts[start : start + 10])
        ]
        with aws_errors("the job queue"):
            response = aws.client("sqs").change_message_visibility_batch(
                QueueUrl=settings().jobs_queue_url, Entries=entries
            )
        if response.get("Failed"):
            raise RuntimeError(f"visibility not changed for {len(response['Failed'])} jobs: {response['Failed']}")
