"""The task table: one item per task (an answer to a question, or an ingestion), expired by TTL.

States move only forward, each move a conditional write: PENDING -> RUNNING -> SUCCESS | FAILURE
(PENDING -> FAILURE too, when a job could not be enqueued or timed out).
"""

from __future__ import annotations

import time
from typing import Any

from parley.config import settings
from parley.dal.dynamo import aws_errors, ddb, error_code, from_item, to_attr, to_item
from parley.ids import now_iso

PENDING, RUNNING, SUCCESS, FAILURE = "PENDING", "RUNNING", "SUCCESS", "FAILURE"


def _key(task_id: str) -> dict[str, Any]:
    return {"task_id": {"S": task_id}}


class TaskRepository:
    def __init__(self, table: str | None = None):
        self.table = table or settings().tasks_table

    def new_task(self, task_id: str, kind: str, owner_id: int, **fields: Any) -> dict[str, Any]:
        return {
            "task_id": task_id,
            "kind": kind,
            "owner_id": owner_id,
            "state": PENDING,
            "created_at": now_iso(),
            "expires_at": int(time.time()) + settings().task_ttl_days * 86400,
            "attempts": 0,
            **fields,
        }

    def put_op(self, task: dict[str, Any]) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": to_item(task),
                "ConditionExpression": "attribute_not_exists(task_id)",
            }
        }

    def put(self, task: dict[str, Any]) -> None:
        with aws_errors("storage"):
            ddb().put_item(**self.put_op(task)["Put"])

    def get(self, task_id: str) -> dict[str, Any] | None:
        with aws_errors("storage"):
            response = ddb().get_item(TableName=self.table, Key=_key(task_id))
        return from_item(response.get("Item"))

    def start(self, task_id: str) -> dict[str, Any] | None:
        """PENDING or RUNNING (a redelivery after a crash) -> RUNNING. None when finished or unknown."""
        try:
            with aws_errors("storage"):
                response = ddb().update_item(
                    TableName=self.table,
                    Key=_key(task_id),
                    UpdateExpression="SET #s = :running, attempts = if_not_exists(attempts, :zero) + :one, "
                    "started_at = :now",
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
                )
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return from_item(response["Attributes"])

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
        update = "SET #s = :state, finished_at = :now"
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

    def finish(self, task_id: str, state: str, error: dict[str, str] | None = None,
               result: dict[str, Any] | None = None) -> bool:
        """True when this call finished the task, False when it was already finished."""
        try:
            with aws_errors("storage"):
                ddb().update_item(**self.finish_op(task_id, state, error, result)["Update"])
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True
