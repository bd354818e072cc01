"""Streaming connections (the WebSocket API), in the connections table.

A connection is CONN#<connection id> / CONN with its account and the conversations it subscribed to; each
subscription is SUB#<conversation id> / CONN#<connection id>, so a conversation's subscribers are one Query.
Every item expires after API Gateway's 2-hour connection limit, should $disconnect never run.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, cast

from parley.config import settings
from parley.dal.dynamo import aws_errors, ddb, error_code, from_item, query_all, to_item, update_if

if TYPE_CHECKING:
    from parley.dal.entities import Connection

CONNECTION_LIFETIME_SECONDS = 2 * 3600 + 300
MAX_SUBSCRIPTIONS = 20  # per connection: bounds the clean-up of a closed connection to one BatchWriteItem
_CONNECTION_SK = "CONN"


def _connection_key(connection_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"CONN#{connection_id}"}, "sk": {"S": _CONNECTION_SK}}


def _subscription_key(conversation_id: int, connection_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"SUB#{conversation_id}"}, "sk": {"S": f"CONN#{connection_id}"}}


class ConnectionRepository:
    def __init__(self, table: str | None = None):
        self.table = table or settings().connections_table

    def add(self, connection_id: str, account_id: int) -> None:
        item = {
            "pk": f"CONN#{connection_id}",
            "sk": _CONNECTION_SK,
            "connection_id": connection_id,
            "account_id": account_id,
            "expires_at": int(time.time()) + CONNECTION_LIFETIME_SECONDS,
        }
        with aws_errors("storage"):
            ddb().put_item(TableName=self.table, Item=to_item(item))

    def get(self, connection_id: str) -> Connection | None:
        with aws_errors("storage"):
            response = ddb().get_item(TableName=self.table, Key=_connection_key(connection_id), ConsistentRead=True)
        return cast("Connection | None", from_item(response.get("Item")))

    def subscribe(self, connection_id: str, conversation_id: int, account_id: int, expires_at: int) -> bool:
        """Record the subscription on the connection (at most MAX_SUBSCRIPTIONS), then its own item. False
        when the connection is gone or already holds MAX_SUBSCRIPTIONS other conversations."""
        recorded = update_if(
            TableName=self.table,
            Key=_connection_key(connection_id),
            UpdateExpression="ADD conversations :one",
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(conversations) "
            "OR size(conversations) < :max OR contains(conversations, :id))",
            ExpressionAttributeValues={
                ":one": {"NS": [str(conversation_id)]},
                ":id": {"N": str(conversation_id)},
                ":max": {"N": str(MAX_SUBSCRIPTIONS)},
            },
        )
        if recorded is None:
            return False
        item = {
            **_subscription_key(conversation_id, connection_id),
            **to_item({"connection_id": connection_id, "account_id": account_id, "expires_at": expires_at}),
        }
        with aws_errors("storage"):
            ddb().put_item(TableName=self.table, Item=item)
        return True

    def unsubscribe(self, connection_id: str, conversation_id: int) -> None:
        with aws_errors("storage"):
            ddb().delete_item(TableName=self.table, Key=_subscription_key(conversation_id, connection_id))
        update_if(
            TableName=self.table,
            Key=_connection_key(connection_id),
            UpdateExpression="DELETE conversations :one",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":one": {"NS": [str(conversation_id)]}},
        )

    def subscribers(self, conversation_id: int) -> list[Connection]:
        """The connections subscribed to a conversation: one Query (past 1 MB only with thousands)."""
        return cast(
            "list[Connection]",
            query_all(
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": f"SUB#{conversation_id}"}},
            ),
        )

    def remove(self, connection_id: str) -> None:
        """Forget a connection and its subscriptions: one GetItem, one BatchWriteItem (<= 21 deletes)."""
        connection = self.get(connection_id)
        keys = [_connection_key(connection_id)]
        followed = connection.get("conversations", set()) if connection else set()
        keys += [_subscription_key(c, connection_id) for c in sorted(followed)]
        requests = [{"DeleteRequest": {"Key": key}} for key in keys]
        for _ in range(5):  # unprocessed deletes are retried a few times; TTL removes whatever is left
            if not requests:
                return
            with aws_errors("storage"):
                response = ddb().batch_write_item(RequestItems={self.table: requests[:25]})
            requests = requests[25:] + response.get("UnprocessedItems", {}).get(self.table, [])


def post_to_connection(connection_id: str, data: bytes) -> bool:
    """Send one message through the WebSocket stage's @connections API. False when the connection is gone."""
    from parley import aws

    # Short timeouts and two retries: a slow push must not hold up the answer it reports on.
    management = aws.client(
        "apigatewaymanagementapi",
        endpoint_url=settings().websocket_endpoint,
        max_attempts=3,
        connect_timeout=1,
        read_timeout=3,
    )
    try:
        management.post_to_connection(ConnectionId=connection_id, Data=data)
    except Exception as exc:
        if error_code(exc) == "GoneException":
            return False
        raise
    return True
