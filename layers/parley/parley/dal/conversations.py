"""Conversations and their messages share one table: one partition per conversation.

    pk = CONV#<id>   sk = META              the conversation (owner, data set, summary, last message id)
    pk = CONV#<id>   sk = MSG#<16-digit id> one message, so one Query reads the whole history in order

The sparse index `by_owner` (owner_pk, owner_sk = conversation id) lists an account's conversations,
newest first; only META items carry its keys.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any, cast

from parley.config import settings
from parley.dal.dynamo import (
    aws_errors,
    batch_write,
    ddb,
    error_code,
    from_item,
    query_all,
    to_attr,
    to_item,
    update_if,
)
from parley.errors import BadRequest
from parley.ids import now_iso, time_ordered_id

if TYPE_CHECKING:
    from parley.dal.entities import Conversation, Message

META = "META"


def conversation_key(conversation_id: int) -> dict[str, Any]:
    return {"pk": {"S": f"CONV#{conversation_id}"}, "sk": {"S": META}}


def message_key(conversation_id: int, message_id: int) -> dict[str, Any]:
    return {"pk": {"S": f"CONV#{conversation_id}"}, "sk": {"S": f"MSG#{message_id:016d}"}}


def owner_pk(account_id: int) -> str:
    return f"ACCOUNT#{account_id}"


def encode_cursor(conversation_id: int) -> str:
    return base64.urlsafe_b64encode(str(conversation_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = int(base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii"))
    except (ValueError, binascii.Error, UnicodeError):
        raise BadRequest("cursor is not valid; pass back the next_cursor of a previous page") from None
    if value <= 0 or value >= 2**53:
        raise BadRequest("cursor is not valid; pass back the next_cursor of a previous page")
    return value


class ConversationRepository:
    def __init__(self, table: str | None = None):
        self.table = table or settings().conversations_table

    def new_item(self, owner_id: int, data_set_id: int) -> Conversation:
        conversation_id = time_ordered_id()
        return {
            "pk": f"CONV#{conversation_id}",
            "sk": META,
            "id": conversation_id,
            "owner_id": owner_id,
            "data_set_id": data_set_id,
            "started_at": now_iso(),
            "last_msg_id": 0,
            "owner_pk": owner_pk(owner_id),
            "owner_sk": conversation_id,
        }

    def create_op(self, item: Conversation) -> dict[str, Any]:
        return {
            "Put": {"TableName": self.table, "Item": to_item(item), "ConditionExpression": "attribute_not_exists(pk)"}
        }

    def create(self, owner_id: int, data_set_id: int) -> Conversation:
        """One conditional PutItem; a (very unlikely) id collision is retried with a new id."""
        for _ in range(5):
            item = self.new_item(owner_id, data_set_id)
            try:
                with aws_errors("storage"):
                    ddb().put_item(**self.create_op(item)["Put"])
                return item
            except Exception as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
        raise RuntimeError("could not allocate a conversation id")

    def get_meta(self, conversation_id: int) -> Conversation | None:
        with aws_errors("storage"):
            response = ddb().get_item(TableName=self.table, Key=conversation_key(conversation_id), ConsistentRead=True)
        return cast("Conversation | None", from_item(response.get("Item")))

    def read(self, conversation_id: int) -> tuple[Conversation | None, list[Message]]:
        """The conversation and its messages, oldest first: one Query (more only past 1 MB of messages)."""
        items = query_all(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"CONV#{conversation_id}"}},
            ConsistentRead=True,
        )
        meta = next((i for i in items if i["sk"] == META), None)
        messages = [i for i in items if i["sk"].startswith("MSG#")]
        return cast("Conversation | None", meta), cast("list[Message]", messages)

    def read_page(
        self, conversation_id: int, after_message_id: int | None = None
    ) -> tuple[Conversation | None, list[Message], bool]:
        """One Query (at most 1 MB, DynamoDB's page): the conversation, unless reading on after a message, and
        its messages oldest first; the flag says more messages follow."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"CONV#{conversation_id}"}},
            "ConsistentRead": True,
        }
        if after_message_id is not None:
            request["ExclusiveStartKey"] = message_key(conversation_id, after_message_id)
        with aws_errors("storage"):
            response = ddb().query(**request)
        items = [from_item(i) for i in response.get("Items", [])]
        meta = next((i for i in items if i["sk"] == META), None)
        messages = [i for i in items if i["sk"].startswith("MSG#")]
        return cast("Conversation | None", meta), cast("list[Message]", messages), "LastEvaluatedKey" in response

    def list_for_owner(
        self, owner_id: int, limit: int, cursor: str | None, data_set_id: int | None
    ) -> tuple[list[Conversation], str | None]:
        """Newest first. With a data set filter, keep reading until a page is full or the index ends."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "by_owner",
            "KeyConditionExpression": "owner_pk = :owner",
            "ExpressionAttributeValues": {":owner": {"S": owner_pk(owner_id)}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if data_set_id is not None:
            kwargs["FilterExpression"] = "data_set_id = :ds"
            kwargs["ExpressionAttributeValues"][":ds"] = to_attr(data_set_id)
        if cursor:
            after = decode_cursor(cursor)
            kwargs["ExclusiveStartKey"] = {
                **conversation_key(after),
                "owner_pk": {"S": owner_pk(owner_id)},
                "owner_sk": {"N": str(after)},
            }
        # Read one past the page: a next_cursor is given only when another item really follows.
        found: list[Conversation] = []
        while True:
            kwargs["Limit"] = limit + 1 - len(found) if data_set_id is None else max(limit + 1, 25)
            with aws_errors("storage"):
                response = ddb().query(**kwargs)
            for raw in response.get("Items", []):
                found.append(cast("Conversation", from_item(raw)))
                if len(found) > limit:
                    return found[:limit], encode_cursor(found[limit - 1]["id"])
            last = response.get("LastEvaluatedKey")
            if not last:
                return found, None
            kwargs["ExclusiveStartKey"] = last

    # --- deleting: mark, then remove the messages, then the conversation itself ---

    def mark_deleting(self, conversation_id: int, owner_id: int) -> bool:
        """Take the conversation out of its owner's list and out of reach of new questions (a send's condition
        refuses it). False when it does not exist or is not this owner's. Marking twice is fine: a delete that
        stopped half way is finished by the next."""
        return (
            update_if(
                TableName=self.table,
                Key=conversation_key(conversation_id),
                UpdateExpression="SET deleting = :yes REMOVE owner_pk, owner_sk",
                ConditionExpression="attribute_exists(pk) AND owner_id = :owner",
                ExpressionAttributeValues={":yes": {"BOOL": True}, ":owner": to_attr(owner_id)},
            )
            is not None
        )

    def messages_of(self, conversation_id: int) -> list[dict[str, Any]]:
        """The keys and task ids of every message (all pages)."""
        return query_all(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :msg)",
            ExpressionAttributeValues={":pk": {"S": f"CONV#{conversation_id}"}, ":msg": {"S": "MSG#"}},
            ProjectionExpression="pk, sk, task_id",
            ConsistentRead=True,
        )

    def delete_messages(self, messages: list[dict[str, Any]]) -> None:
        batch_write(
            self.table, [{"DeleteRequest": {"Key": {"pk": {"S": m["pk"]}, "sk": {"S": m["sk"]}}}} for m in messages]
        )

    def delete_meta(self, conversation_id: int) -> None:
        with aws_errors("storage"):
            ddb().delete_item(TableName=self.table, Key=conversation_key(conversation_id))

    # --- transaction parts (composed with the task table by the logic layer) ---

    def record_question_ops(
        self,
        meta_condition: str,
        condition_values: dict[str, Any],
        conversation_id: int,
        message: Message,
        summary: str,
    ) -> list[dict[str, Any]]:
        """Advance the conversation's last message id (guarded by `meta_condition`) and write the question
        (its start becomes the conversation's summary when it is the first)."""
        values = {
            ":mid": to_attr(message["id"]),
            ":reserved": to_attr(message["id"] + 1),  # the reply's id is taken now, so ids keep increasing
            ":q": to_attr(summary),
            **{k: to_attr(v) for k, v in condition_values.items()},
        }
        return [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": conversation_key(conversation_id),
                    "UpdateExpression": "SET last_msg_id = :reserved, summary = if_not_exists(summary, :q)",
                    "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(deleting) "
                    f"AND last_msg_id < :mid AND {meta_condition}",
                    "ExpressionAttributeValues": values,
                }
            },
            self.put_message_op(conversation_id, message),
        ]

    def put_message_op(self, conversation_id: int, message: Message) -> dict[str, Any]:
        item = {**message_key(conversation_id, message["id"]), **to_item(message)}
        return {
            "Put": {
                "TableName": self.table,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
