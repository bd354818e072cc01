"""Creating, reading, listing conversations and sending questions to them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley.auth import Principal
from parley.dal import idempotency, jobs
from parley.dal.conversations import ConversationRepository, decode_cursor, encode_cursor
from parley.dal.data_sets import DataSetRepository
from parley.dal.dynamo import TransactionCancelled, transact
from parley.dal.idempotency import IdempotencyKey
from parley.dal.tasks import FAILURE, TaskRepository
from parley.errors import BadRequest, Forbidden, NotFound, ServiceUnavailable
from parley.ids import new_task_id, now_iso, user_message_id
from parley.log import logger
from parley.wire import size_of

if TYPE_CHECKING:
    from parley.dal.entities import Conversation, Message

_NO_ACCESS = "You do not have access to this data set."
_MAX_IN_OPERANDS = 99  # DynamoDB allows 100 operands in an IN (...) condition
SUMMARY_CHARS = 200
# A page of history, as JSON: well under Lambda's 6 MB result limit, which wraps the body in an envelope.
HISTORY_PAGE_BYTES = 1_000_000


def _created_view(item: Conversation) -> dict[str, Any]:
    return {"id": item["id"], "started_at": item["started_at"], "data_set_id": item["data_set_id"]}


def create(caller: Principal, data_set_id: int, key: IdempotencyKey | None = None) -> dict[str, Any]:
    if not caller.can_use(data_set_id):
        raise Forbidden(_NO_ACCESS)
    if caller.is_admin and DataSetRepository().get(data_set_id) is None:
        raise NotFound("data set not found")
    conversations = ConversationRepository()
    if key is None:
        return _created_view(conversations.create(caller.account_id, data_set_id))
    for _ in range(5):
        item = conversations.new_item(caller.account_id, data_set_id)
        try:
            replayed = idempotency.transact_claimed([conversations.create_op(item)], key, _created_view(item))
        except TransactionCancelled as cancelled:
            if "TransactionConflict" in cancelled.codes or cancelled.codes[0] == "ConditionalCheckFailed":
                continue  # a concurrent retry of this request, or (very unlikely) a taken id: try again
            raise
        return replayed or _created_view(item)
    raise ServiceUnavailable("could not create the conversation, please retry")


def _owned(caller: Principal, meta: Conversation | None) -> Conversation:
    # Another account's conversation answers exactly like a missing one: existence does not leak.
    if meta is None or meta.get("owner_id") != caller.account_id or meta.get("deleting"):
        raise NotFound("conversation not found")
    return meta


def delete(caller: Principal, conversation_id: int) -> None:
    """Remove a conversation, its messages and their tasks. The conversation is marked first, so it is gone
    for its owner at once and takes no new question; its tasks go before its messages, so an answer the
    worker is still writing is refused (its write requires the task) instead of outliving the conversation."""
    conversations = ConversationRepository()
    if not conversations.mark_deleting(conversation_id, caller.account_id):
        raise NotFound("conversation not found")
    task_ids = {m["task_id"] for m in conversations.messages_of(conversation_id) if m.get("task_id")}
    TaskRepository().delete_many(sorted(task_ids))
    conversations.delete_messages(conversations.messages_of(conversation_id))
    conversations.delete_meta(conversation_id)


def message_view(message: Message) -> dict[str, Any]:
    view = {
        "id": message["id"],
        "text": message["text"],
        "role": message["role"],
        "created_at": message["created_at"],
    }
    if message["role"] == "agent":
        view["sources"] = message.get("sources", [])
        view["steps"] = message.get("steps", [])
    return view


def shorten(text: str) -> str:
    """A conversation's summary: its first question, cut to SUMMARY_CHARS characters."""
    if len(text) <= SUMMARY_CHARS:
        return text
    return text[: SUMMARY_CHARS - 1] + "\u2026"


def summary_view(meta: Conversation) -> dict[str, Any]:
    summary = meta.get("summary")  # conversations started before the cap hold the whole question
    return {
        "id": meta["id"],
        "started_at": meta["started_at"],
        "summary": None if summary is None else shorten(summary),
        "data_set_id": meta["data_set_id"],
    }


def read(caller: Principal, conversation_id: int, cursor: str | None = None) -> dict[str, Any]:
    """The conversation and a page of its history, oldest first: all of it in one Query unless it is over about
    1 MB; then `history_next_cursor` reads on (the next page costs a GetItem for the ownership check too)."""
    repo = ConversationRepository()
    if cursor is None:
        meta, messages, more = repo.read_page(conversation_id)
        meta = _owned(caller, meta)
    else:
        after = decode_cursor(cursor)
        meta = _owned(caller, repo.get_meta(conversation_id))
        _, messages, more = repo.read_page(conversation_id, after)
    history: list[dict[str, Any]] = []
    size = 0
    for message in messages:
        view = message_view(message)
        size += size_of(view)
        if history and size > HISTORY_PAGE_BYTES:
            more = True
            break
        history.append(view)
    next_cursor = encode_cursor(history[-1]["id"]) if more and history else None
    return {**summary_view(meta), "history": history, "history_next_cursor": next_cursor}


def list_own(caller: Principal, limit: int, cursor: str | None, data_set_id: int | None) -> dict[str, Any]:
    items, next_cursor = ConversationRepository().list_for_owner(caller.account_id, limit, cursor, data_set_id)
    return {"results": [summary_view(i) for i in items], "next_cursor": next_cursor}


def _access_condition(caller: Principal, data_set_id: int | None) -> tuple[str, dict[str, Any]]:
    """The checks a send must pass, as one condition on the conversation item (so the send is one write)."""
    parts = ["owner_id = :owner"]
    values: dict[str, Any] = {":owner": caller.account_id}
    if data_set_id is not None:
        parts.append("data_set_id = :requested_ds")
        values[":requested_ds"] = data_set_id
    if not caller.is_admin:
        allowed = sorted(caller.data_set_ids)[:_MAX_IN_OPERANDS] or [0]
        names = [f":ds{i}" for i in range(len(allowed))]
        parts.append(f"data_set_id IN ({', '.join(names)})")
        values.update(dict(zip(names, allowed)))
    return " AND ".join(parts), values


def _explain_refusal(caller: Principal, conversation_id: int, data_set_id: int | None, message_id: int) -> int:
    """Why the guarded write was refused. Returns a later message id when only the ordering check failed."""
    meta = _owned(caller, ConversationRepository().get_meta(conversation_id))
    if data_set_id is not None and data_set_id != meta["data_set_id"]:
        raise BadRequest("data_set_id does not match the conversation's data set")
    if not caller.can_use(meta["data_set_id"]):
        raise Forbidden(_NO_ACCESS)
    if meta.get("last_msg_id", 0) >= message_id:
        return user_message_id(after=meta["last_msg_id"])
    raise ServiceUnavailable("the conversation is busy, please retry")


def send(
    caller: Principal, conversation_id: int, question: str, data_set_id: int | None, key: IdempotencyKey | None = None
) -> dict[str, Any]:
    """Write the question and its PENDING task in one transaction (with the Idempotency-Key's claim, if any),
    then enqueue the answer job."""
    conversations, tasks = ConversationRepository(), TaskRepository()
    condition, values = _access_condition(caller, data_set_id)
    if not caller.is_admin and len(caller.data_set_ids) > _MAX_IN_OPERANDS:
        meta = _owned(caller, conversations.get_meta(conversation_id))
        if not caller.can_use(meta["data_set_id"]):
            raise Forbidden(_NO_ACCESS)
        condition, values = "owner_id = :owner", {":owner": caller.account_id}
    task_id = new_task_id()
    message_id = user_message_id()
    for _ in range(5):
        message: Message = {
            "id": message_id,
            "role": "user",
            "text": question,
            "created_at": now_iso(),
            "task_id": task_id,
        }
        task = tasks.new_task(
            task_id, "answer", caller.account_id, conversation_id=conversation_id, message_id=message_id
        )
        ops = conversations.record_question_ops(condition, values, conversation_id, message, shorten(question))
        ops.append(tasks.put_op(task))
        try:
            if key is None:
                transact(ops)
            elif (replayed := idempotency.transact_claimed(ops, key, {"task_id": task_id})) is not None:
                return replayed
            break
        except TransactionCancelled as cancelled:
            if cancelled.codes and cancelled.codes[0] == "ConditionalCheckFailed":
                message_id = _explain_refusal(caller, conversation_id, data_set_id, message_id)
            elif "TransactionConflict" not in cancelled.codes:
                raise
    else:
        raise ServiceUnavailable("the conversation is busy, please retry")
    try:
        jobs.enqueue("answer", task_id, jobs.group_for(task))
    except Exception:
        logger.exception("could not enqueue an answer job", extra={"task_id": task_id})
        fail_answer(
            conversation_id,
            message_id,
            task_id,
            "enqueue_failed",
            "The question could not be queued for an answer; please send it again.",
        )
        if key is not None:
            idempotency.release(key)
        raise ServiceUnavailable("the answer queue is unavailable, please retry") from None
    return {"task_id": task_id}


def fail_answer(conversation_id: int, message_id: int, task_id: str, code: str, message: str) -> None:
    """Finish a question's task as FAILURE and leave a `system` notice in the reply's place, atomically."""
    notice: Message = {
        "id": message_id + 1,
        "role": "system",
        "text": message,
        "created_at": now_iso(),
        "task_id": task_id,
        "error_code": code,
    }
    try:
        transact(
            [
                ConversationRepository().put_message_op(conversation_id, notice),
                TaskRepository().finish_op(task_id, FAILURE, error={"code": code, "message": message}),
            ]
        )
    except TransactionCancelled:
        # The reply slot is taken or the task already finished: someone else settled this turn.
        TaskRepository().finish(task_id, FAILURE, error={"code": code, "message": message})
