"""The sweeper: no task stays PENDING forever.

A task still unfinished `SWEEP_AFTER_SECONDS` after creation (default 15 min) is re-enqueued once, in case
its job was lost (the worker is idempotent, so a duplicate job is harmless). If it is still unfinished the same
time after that, it is marked FAILURE with `error.code = "timeout"` (and a `system` notice for a question).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from parley.config import settings
from parley.dal import jobs
from parley.dal.tasks import FAILURE, TaskRepository
from parley.log import logger
from parley.logic.conversations import fail_answer

if TYPE_CHECKING:
    from parley.dal.entities import Task

TIMEOUT_MESSAGE = "No answer could be produced in time; please send the question again."


def sweep_after_seconds() -> int:
    return settings().sweep_after_seconds


def sweep(now: float | None = None) -> dict[str, int]:
    now = time.time() if now is None else now
    age = sweep_after_seconds()
    tasks = TaskRepository()
    counts = {"requeued": 0, "timed_out": 0}
    for task in tasks.open_before(int(now - age)):
        requeued = task.get("requeued_epoch")
        if requeued is None:
            if tasks.mark_requeued(task["task_id"]):
                jobs.enqueue(
                    task["kind"], task["task_id"], jobs.group_for(task), deduplication_id=f"{task['task_id']}-requeue"
                )
                counts["requeued"] += 1
        elif requeued < now - age:
            _time_out(tasks, task)
            counts["timed_out"] += 1
    logger.info("sweep done", extra=counts)
    return counts


def _time_out(tasks: TaskRepository, task: Task) -> None:
    if task["kind"] == "answer":
        fail_answer(task["conversation_id"], task["message_id"], task["task_id"], "timeout", TIMEOUT_MESSAGE)
    else:
        tasks.finish(task["task_id"], FAILURE, error={"code": "timeout", "message": TIMEOUT_MESSAGE})
