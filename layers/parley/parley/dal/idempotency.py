"""Idempotency keys: a client's `Idempotency-Key` claimed in the same transaction as the request's own write,
so a request without the header costs nothing and a retried one is found without a read.

The claims live in the task table (it already expires items by TTL on `expires_at`), one per account and key:

    task_id = IDEM#<account id>#<SHA-256 of the key>   fingerprint, response, expires_at

A claim's id is never a task's (task ids are UUIDs), and it has no `open_pk`, so the sweeper never sees it.
A claim is written only with a successful request: an error leaves the key free for the retry.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, NamedTuple

from parley.config import settings
from parley.dal.dynamo import TransactionCancelled, aws_errors, ddb, error_code, to_attr, transact
from parley.errors import ServiceUnavailable, Unprocessable

WINDOW_SECONDS = 24 * 3600


def _now() -> int:
    return int(time.time())


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class IdempotencyKey(NamedTuple):
    account_id: int
    key: str
    fingerprint: str  # the request it was first used with: method, path and body

    @classmethod
    def of_request(cls, account_id: int, key: str, method: str, path: str, body: str) -> IdempotencyKey:
        return cls(account_id, key, _sha256(f"{method} {path}\n{body}"))

    def item_key(self) -> dict[str, Any]:
        return {"task_id": {"S": f"IDEM#{self.account_id}#{_sha256(self.key)}"}}


def claim_op(key: IdempotencyKey, response: dict[str, Any]) -> dict[str, Any]:
    """A transaction part that claims the key for this request (refused while an unexpired claim exists;
    TTL deletes expired claims within a day or two, so the condition checks the expiry itself)."""
    now = _now()
    item = {
        **key.item_key(),
        "fingerprint": to_attr(key.fingerprint),
        "owner_id": to_attr(key.account_id),
        "response": to_attr(json.dumps(response)),
        "expires_at": to_attr(now + WINDOW_SECONDS),
    }
    return {
        "Put": {
            "TableName": settings().tasks_table,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(task_id) OR expires_at < :now",
            "ExpressionAttributeValues": {":now": to_attr(now)},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def transact_claimed(ops: list[dict[str, Any]], key: IdempotencyKey, response: dict[str, Any]) -> dict[str, Any] | None:
    """Write `ops` and claim `key` in one transaction; None when written. When the key was already claimed,
    nothing is written and the first request's response comes back instead (a 422 if that request was another
    one). Other cancellations are raised as they are, for the caller's own handling."""
    try:
        transact([*ops, claim_op(key, response)])
    except TransactionCancelled as cancelled:
        if cancelled.codes[-1] != "ConditionalCheckFailed":
            raise
        claimed = cancelled.items[-1]
        if claimed is None:  # a claim that just expired or was released: the client may simply retry
            raise ServiceUnavailable("the Idempotency-Key is being settled, please retry") from None
        if claimed.get("fingerprint") != key.fingerprint:
            raise Unprocessable(
                "This Idempotency-Key was used for a different request (method, path or body) in the last 24 hours."
            ) from None
        first_response: dict[str, Any] = json.loads(claimed["response"])
        return first_response
    return None


def release(key: IdempotencyKey) -> None:
    """Free the key after a request failed past its write (e.g. its job could not be queued), so that the
    client's retry is tried again rather than answered with the failed attempt."""
    try:
        with aws_errors("storage"):
            ddb().delete_item(
                TableName=settings().tasks_table,
                Key=key.item_key(),
                ConditionExpression="fingerprint = :fp",
                ExpressionAttributeValues={":fp": to_attr(key.fingerprint)},
            )
    except Exception as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise
