"""Conversations and their messages share one table: one partition per conversation.

    pk = CONV#<id>   sk = META              the conversation (owner, data set, summary, last message id)
    pk = CONV#<id>   sk = MSG#<16-digit id> one message, so one Query reads the whole history in order

The sparse index `by_owner` (owner_pk, owner_sk = conversation id) lists an account's conversations,
newest first; only META items carry its keys.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, cast

from parley.config import settings
from parley.dal.entities import Conversation, Message
from parley.dal.dynamo import aws_errors, ddb, error_code, from_item, query_all, to_attr, to_item
from parley.errors import BadRequest
from parley.ids import now_iso, time_ordered_id

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

    def create(self, owner_id: int, data_set_id: int) -> Conversation:
        """One conditional PutItem; a (very unlikely) id collision is retried with a new id."""
        started_at = now_iso()
        for _ in range(5):
            conversation_id = time_ordered_id()
            item: Conversation = {
                "pk": f"CONV#{conversation_id}",
                "sk": META,
                "id": conversation_id,
                "owner_id": owner_id,
                "data_set_id": data_set_id,
                "started_at": started_at,
                "last_msg_id": 0,
                "owner_pk": owner_pk(owner_id),
                "owner_sk": conversation_id,
            }
            try:
                with aws_errors("storage"):
                    ddb().put_item(
                        TableName=self.table,
                        Item=to_item(item),
                        ConditionExpression="attribute_not_exists(pk)",
                    )
                return item
            except Exception as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
        raise RuntimeError("could not allocate a conversation id")

    def get_meta(self, conversation_id: int) -> Conversation | None:
        with aws_errors("storage"):
            response = ddb().get_item(
                TableName=self.table, Key=conversation_key(conversation_id), ConsistentRead=True
            )
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

    # --- transaction parts (composed with the task table by the logic layer) ---

    def record_question_ops(
        self,
        meta_condition: str,
        condition_values: dict[str, Any],
        conversation_id: int,
        message: Message,
    ) -> list[dict[str, Any]]:
        """Advance the conversation's last message id (guarded by `meta_condition`) and write the question."""
        values = {
            ":mid": to_attr(message["id"]),
            ":reserved": to_attr(message["id"] + 1),  # the reply's id is taken now, so ids keep increasing
            ":q": to_attr(message["text"]),
            **{k: to_attr(v) for k, v in condition_values.items()},
        }
        return [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": conversation_key(conversation_id),
                    "UpdateExpression": "SET last_msg_id = :reserved, summary = if_not_exists(summary, :q)",
                    "ConditionExpression": f"attribute_exists(pk) AND last_msg_id < :mid AND {meta_condition}",
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
