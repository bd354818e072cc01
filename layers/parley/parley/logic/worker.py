"""The worker's side of a task: answer a question, or load products/documents into a data set.

Every step can be repeated safely. The task moves PENDING -> RUNNING -> SUCCESS | FAILURE by conditional
writes; the reply to question message N is stored as message N + 1, written only if absent, in the same
transaction that marks the task SUCCESS. A redelivered job therefore finds either the reply (and just
finishes the task) or nothing (and answers again).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from parley.dal import blobs
from parley.dal.conversations import ConversationRepository
from parley.dal.data_sets import DataSetRepository
from parley.dal.dynamo import TransactionCancelled, transact
from parley.dal.tasks import FAILURE, SUCCESS, TaskRepository
from parley.engine import Answer, Source, Turn
from parley.ids import now_iso
from parley.log import logger
from parley.logic import data_sets as data_set_logic
from parley.logic.conversations import fail_answer, message_view
from parley.logic.knowledge_cache import knowledge_for
from parley.logic.streaming import AnswerStream

if TYPE_CHECKING:
    from parley.agent.contracts import AnswerListener, Knowledge
    from parley.agent.planner import PlannerEngine
    from parley.dal.entities import DataSet, Message, Task
    from parley.providers import LanguageModelEngine


class JobError(Exception):
    """A failure with a code the client can act on (shown in the task's `error`).

    `retryable=False` means another delivery cannot help (a rejected key, a deleted conversation): the task
    fails at once instead of after every redelivery."""

    def __init__(self, code: str, message: str, retryable: bool = True):
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


# Time kept back from a model answer to store it and finish the task before Lambda stops the worker.
WRITE_RESERVE_SECONDS = 5.0


def engine_for(data_set: DataSet, not_after: float | None = None) -> PlannerEngine | _ProviderFailuresAsJobErrors:
    """The data set's answer engine: the offline one unless its settings name a language-model provider.
    `not_after` (monotonic seconds) is when a model answer must be done by."""
    settings = data_set.get("answer_settings") or {}
    if settings.get("provider", "extractive") == "extractive":
        from parley.agent.planner import PlannerEngine

        return PlannerEngine()
    from parley import providers  # model clients load only in workers that answer with a model

    return _ProviderFailuresAsJobErrors(providers.engine_for_settings(settings, not_after))


class _ProviderFailuresAsJobErrors:
    """Gives a provider's final failure (after its retries) the task error code the client sees."""

    def __init__(self, engine: LanguageModelEngine):
        self.engine = engine

    def answer(
        self, question: str, history: list[Turn], knowledge: Knowledge, listener: AnswerListener | None = None
    ) -> Answer:
        from parley.providers import ProviderError, StepLimitReached

        try:
            return self.engine.answer(question, history, knowledge, listener)
        except ProviderError as exc:
            raise JobError(exc.code, exc.message, retryable=exc.retryable) from exc
        except StepLimitReached as exc:  # the same model on the same question would run away again
            raise JobError(exc.code, exc.message, retryable=False) from exc


def record_usage(data_set: DataSet, input_tokens: int, output_tokens: int) -> None:
    """Token metrics per data set and model: one EMF document per answer, from an emitter of its own.

    Powertools' `Metrics()` objects share their metrics and dimensions across instances, so threads
    answering groups side by side would mix data sets; an emitter made for this call shares nothing."""
    settings = data_set.get("answer_settings") or {}
    if settings.get("provider", "extractive") == "extractive":
        return
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    if is_metrics_disabled():
        return
    emitter = AmazonCloudWatchEMFProvider()  # namespace from POWERTOOLS_METRICS_NAMESPACE
    try:
        emitter.add_dimension("data_set_id", str(data_set["id"]))
        emitter.add_dimension("model", str(settings.get("model")))
        emitter.add_metric("InputTokens", MetricUnit.Count, input_tokens)
        emitter.add_metric("OutputTokens", MetricUnit.Count, output_tokens)
        # one write per document (print writes the newline apart): lines of other threads never split it
        sys.stdout.write(json.dumps(emitter.serialize_metric_set(), separators=(",", ":")) + "\n")
    except Exception:  # metrics must never cost the client an answer
        logger.warning("could not emit token metrics", exc_info=True)


class RetryLater(Exception):
    """A job failed on try `tries` and is left for another delivery."""

    def __init__(self, tries: int):
        super().__init__(f"failed on try {tries}")
        self.tries = tries


def handle(job: dict[str, Any], max_tries: int, not_after: float | None = None) -> None:
    """Run one job. Raises RetryLater to have it delivered again; on its last try (counted on the task, not
    by SQS receives, which untried records behind a failed one spend too) the task is settled as FAILURE and
    the job is done with. `not_after` (monotonic seconds) is when the invocation's time runs out, from the
    Lambda context."""
    task_id = job.get("task_id")
    kind = job.get("kind")
    if not isinstance(task_id, str) or kind not in ("answer", "load_products", "load_documents"):
        logger.error("dropping a malformed job", extra={"job": job})
        return
    tasks = TaskRepository()
    task = tasks.start(task_id)
    if task is None:
        logger.info("task already finished or unknown", extra={"task_id": task_id})
        return
    tries = int(task.get("attempts") or 1)
    try:
        if kind == "answer":
            answer(task, not_after)
        else:
            load(task)
    except Exception as exc:
        hopeless = isinstance(exc, JobError) and not exc.retryable
        last_try = hopeless or tries >= max_tries
        logger.exception("job failed", extra={"task_id": task_id, "tries": tries, "last_try": last_try})
        if not last_try:
            raise RetryLater(tries) from exc
        generic = "The answer could not be produced." if kind == "answer" else "The load could not be completed."
        code, message = (exc.code, exc.message) if isinstance(exc, JobError) else ("internal_error", generic)
        if kind == "answer":
            fail_answer(task["conversation_id"], task["message_id"], task_id, code, message)
            with AnswerStream(task["conversation_id"], task_id, task["owner_id"]) as stream:
                stream.failed(code, message)
        else:
            tasks.finish(task_id, FAILURE, error={"code": code, "message": message})
        # settled: raising now would only hold up the group and move the job to the dead-letter queue


def turn_of(message: Message) -> Turn:
    """An earlier message as engines see it: its text, and for an answer the sources and steps it showed."""
    sources = [
        Source(str(s.get("type")), str(s.get("id")), str(s.get("title")), s.get("url"))
        for s in message.get("sources") or []
        if isinstance(s, dict)
    ]
    return Turn(role=message["role"], text=message["text"], sources=sources, steps=list(message.get("steps") or []))


def answer(task: Task, not_after: float | None = None) -> None:
    """Answer a question, streaming the turn's events to the owner's subscribed connections."""
    with AnswerStream(task["conversation_id"], task["task_id"], task["owner_id"]) as stream:
        answer_streamed(task, stream, not_after)


def answer_streamed(task: Task, stream: AnswerStream, not_after: float | None = None) -> None:
    conversation_id, question_id = task["conversation_id"], task["message_id"]
    conversations, tasks = ConversationRepository(), TaskRepository()
    meta, messages = conversations.read(conversation_id)
    question = next((m for m in messages if m["id"] == question_id), None)
    if meta is None or question is None:
        raise JobError("conversation_missing", "The conversation or its question no longer exists.", retryable=False)
    stored = next((m for m in messages if m["id"] == question_id + 1), None)
    if stored is not None:
        tasks.finish(task["task_id"], SUCCESS)  # answered before a crash; only the task was left behind
        stream.completed(message_view(stored))
        return
    data_set = DataSetRepository().get(meta["data_set_id"])
    if data_set is None:
        raise JobError("data_set_missing", "The conversation's data set no longer exists.", retryable=False)
    history = [turn_of(m) for m in messages if m["id"] < question_id]
    stream.started()  # the engine streams its tool calls (steps) and answer text (deltas) to it
    engine = engine_for(data_set, None if not_after is None else not_after - WRITE_RESERVE_SECONDS)
    # a model streams only to someone: with no subscriber the provider is called plainly (cheaper, one response)
    listener = stream if stream.targets else None
    result = engine.answer(question["text"], history, knowledge_for(data_set), listener)
    record_usage(data_set, result.input_tokens, result.output_tokens)
    reply: Message = {
        "id": question_id + 1,
        "role": "agent",
        "text": result.text,
        "created_at": now_iso(),
        "task_id": task["task_id"],
        "sources": [s.as_dict() for s in result.sources],
        "steps": [step.as_dict() for step in result.steps],
        "usage": {"input_tokens": result.input_tokens, "output_tokens": result.output_tokens},
    }
    try:
        transact([conversations.put_message_op(conversation_id, reply), tasks.finish_op(task["task_id"], SUCCESS)])
    except TransactionCancelled as cancelled:
        if cancelled.codes[:1] == ["ConditionalCheckFailed"]:
            tasks.finish(task["task_id"], SUCCESS)  # a concurrent delivery stored its reply (and streams it)
        elif cancelled.codes[1:2] != ["ConditionalCheckFailed"]:
            raise  # otherwise the task was already finished: nothing left to do
        return
    stream.completed(message_view(reply))  # after the write: a client told "completed" can read it back


def load(task: Task) -> None:
    payload = json.loads(blobs.get(task["payload_key"]))
    result = data_set_logic.load(task["data_set_id"], payload.get("products", []), payload.get("documents", []))
    TaskRepository().finish(task["task_id"], SUCCESS, result=result)
    try:
        blobs.delete(task["payload_key"])
    except Exception:  # the payload is only garbage now; a lifecycle rule removes what is left
        logger.warning("could not delete a load payload", extra={"task_id": task["task_id"]})
