"""Task status as the contract shows it: PENDING until the task has finished (RUNNING is internal)."""

from __future__ import annotations

from typing import Any

from parley.auth import Principal
from parley.dal.tasks import FAILURE, SUCCESS, TaskRepository
from parley.errors import NotFound


def status(caller: Principal, task_id: str) -> dict[str, Any]:
    task = TaskRepository().get(task_id)
    # Only the account that created a task may see it; to anyone else it does not exist.
    if task is None or task.get("owner_id") != caller.account_id:
        raise NotFound("task not found")
    state = task["state"] if task["state"] in (SUCCESS, FAILURE) else "PENDING"
    view: dict[str, Any] = {"state": state, "kind": task.get("kind")}
    if task.get("conversation_id") is not None:
        view["conversation_id"] = task["conversation_id"]
    if state == FAILURE:
        view["error"] = task.get("error") or {"code": "unknown", "message": "The task failed."}
    if state == SUCCESS and task.get("result"):
        view["result"] = task["result"]
    return view
