"""The task table: one item per task (an answer to a question, or an ingestion), expired by TTL.

States move only forward, each move a conditional write: PENDING -> RUNNING -> SUCCESS | FAILURE
(PENDING -> FAILURE too, when a job could not be enqueued or timed out).
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any, cast

from parley.config import settings
from parley.dal.dynamo import aws_errors, batch_write, ddb, from_item, query_all, to_attr, to_item, update_if
from parley.ids import now_iso

if TYPE_CHECKING:
    from parley.dal.entities import Task

PENDING, RUNNING, SUCCESS, FAILURE = "PENDING", "RUNNING", "SUCCESS", "FAILURE"

# Unfinished tasks are listed by the sparse index `open_tasks` (open_pk, created_epoch), which the sweeper
# reads. open_pk is spread over shards so that sends do not all write one index partition.
OPEN_SHARDS = 16


def _key(task_id: str) -> dict[str, Any]:
    return {"task_id": {"S": task_id}}


class TaskRepository:
    def __init__(self, table: str | None = None):
        self.table = table or settings().tasks_table

    def new_task(self, task_id: str, kind: str, owner_id: int, **fields: Any) -> Task:
        now = int(time.time())
        task: Task = {
            "task_id": task_id,
            "kind": kind,
            "owner_id": owner_id,
            "state": PENDING,
            "created_at": now_iso(),
            "expires_at": now + settings().task_ttl_days * 86400,
            "attempts": 0,
            "open_pk": f"OPEN#{secrets.randbelow(OPEN_SHARDS)}",
            "created_epoch": now,
        }
        return cast("Task", {**task, **fields})

    def put_op(self, task: Task) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": to_item(task),
                "ConditionExpression": "attribute_not_exists(task_id)",
            }
        }

    def put(self, task: Task) -> None:
        with aws_errors("storage"):
            ddb().put_item(**self.put_op(task)["Put"])

    def get(self, task_id: str) -> Task | None:
        with aws_errors("storage"):
            response = ddb().get_item(TableName=self.table, Key=_key(task_id))
        return cast("Task | None", from_item(response.get("Item")))

    def start(self, task_id: str) -> Task | None:
        """PENDING or RUNNING (a redelivery after a crash) -> RUNNING. None when finished or unknown."""
        return cast(
            "Task | None",
            update_if(
                TableName=self.table,
                Key=_key(task_id),
                UpdateExpression=(
                    "SET #s = :running, attempts = if_not_exists(attempts, :zero) + :one, started_at = :now"
                ),
                ConditionExpression="#s IN (:pending, :running)",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={
                    ":running": {"S": RUNNING},
                    ":pending": {"S": PENDING},
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                    ":now": {"S": now_iso()},
                },
                ReturnValues="ALL_NEW",
            ),
        )

    def finish_op(
        self, task_id: str, state: str, error: dict[str, str] | None = None, result: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Move an unfinished task to SUCCESS or FAILURE (a finished task is never rewritten)."""
        values: dict[str, Any] = {
            ":state": {"S": state},
            ":now": {"S": now_iso()},
            ":success": {"S": SUCCESS},
            ":failure": {"S": FAILURE},
        }
        update = "REMOVE open_pk SET #s = :state, finished_at = :now"
        if error is not None:
            update += ", #e = :error"
            values[":error"] = to_attr(error)
        if result is not None:
            update += ", #r = :result"
            values[":result"] = to_attr(result)
        names = {"#s": "state"}
        if error is not None:
            names["#e"] = "error"
        if result is not None:
            names["#r"] = "result"
        return {
            "Update": {
                "TableName": self.table,
                "Key": _key(task_id),
                "UpdateExpression": update,
                "ConditionExpression": "attribute_exists(task_id) AND NOT #s IN (:success, :failure)",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    def delete_many(self, task_ids: list[str]) -> None:
        batch_write(self.table, [{"DeleteRequest": {"Key": _key(task_id)}} for task_id in task_ids])

    def open_before(self, created_before: int) -> list[Task]:
        """Unfinished tasks created before an epoch second, from every shard of `open_tasks`."""
        found: list[Task] = []
        for shard in range(OPEN_SHARDS):
            found.extend(
                cast(
                    "list[Task]",
                    query_all(
                        TableName=self.table,
                        IndexName="open_tasks",
                        KeyConditionExpression="open_pk = :shard AND created_epoch < :before",
                        ExpressionAttributeValues={
                            ":shard": {"S": f"OPEN#{shard}"},
                            ":before": to_attr(created_before),
                        },
                    ),
                )
            )
        return found

    def mark_requeued(self, task_id: str) -> bool:
        """Record that the sweeper re-enqueued an unfinished task; False when it finished meanwhile."""
        return (
            update_if(
                TableName=self.table,
                Key=_key(task_id),
                UpdateExpression="SET requeued_epoch = :now",
                ConditionExpression="#s IN (:pending, :running)",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={
                    ":now": to_attr(int(time.time())),
                    ":pending": {"S": PENDING},
                    ":running": {"S": RUNNING},
                },
            )
            is not None
        )

    def finish(
        self, task_id: str, state: str, error: dict[str, str] | None = None, result: dict[str, Any] | None = None
    ) -> bool:
        """True when this call finished the task, False when it was already finished."""
        return update_if(**self.finish_op(task_id, state, error, result)["Update"]) is not None
