"""Small helpers over the low-level DynamoDB client (faster to create and to call than boto3 resources)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, overload

from parley import aws
from parley.errors import ServiceUnavailable

# Errors that remain after botocore's standard retries mean "try again later", never a client mistake.
_TRANSIENT_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalError",
    "RequestThrottled",
    "SlowDown",
    "503",
    "500",
}


def ddb() -> Any:
    return aws.client("dynamodb")


def to_attr(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float)):
        return {"N": repr(value) if isinstance(value, float) else str(value)}
    if isinstance(value, str):
        return {"S": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, (list, tuple)):
        return {"L": [to_attr(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {str(k): to_attr(v) for k, v in value.items()}}
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")


def from_attr(attr: dict[str, Any]) -> Any:
    ((kind, value),) = attr.items()
    if kind == "S":
        return value
    if kind == "N":
        return int(value) if value.lstrip("-").isdigit() else float(value)
    if kind == "BOOL":
        return value
    if kind == "NULL":
        return None
    if kind == "L":
        return [from_attr(v) for v in value]
    if kind == "M":
        return {k: from_attr(v) for k, v in value.items()}
    if kind == "SS":
        return set(value)
    if kind == "NS":
        return {int(v) for v in value}
    raise TypeError(f"unsupported DynamoDB type {kind}")


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: to_attr(v) for k, v in values.items() if v is not None}


@overload
def from_item(item: dict[str, Any]) -> dict[str, Any]: ...


@overload
def from_item(item: dict[str, Any] | None) -> dict[str, Any] | None: ...


def from_item(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {k: from_attr(v) for k, v in item.items()}


def query_all(**request: Any) -> list[dict[str, Any]]:
    """Every item a Query matches, following LastEvaluatedKey past each 1 MB page."""
    items: list[dict[str, Any]] = []
    while True:
        with aws_errors("storage"):
            response = ddb().query(**request)
        items.extend(from_item(i) for i in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return items
        request = {**request, "ExclusiveStartKey": response["LastEvaluatedKey"]}


UNPROCESSED_TRIES = 8
UNPROCESSED_BASE_SECONDS = 0.05
UNPROCESSED_MAX_SECONDS = 2.0
sleep: Callable[[float], None] = time.sleep  # tests replace it to see the waits


def unprocessed_delay(attempt: int) -> float:
    """Full-jitter exponential backoff before resending what a batch call left unprocessed (attempt >= 1)."""
    return random.uniform(0, min(UNPROCESSED_MAX_SECONDS, UNPROCESSED_BASE_SECONDS * 2**attempt))


def batch_until_processed(
    call: Callable[..., dict[str, Any]], request: dict[str, Any], leftover: str
) -> list[dict[str, Any]]:
    """Send a BatchGetItem/BatchWriteItem, then resend what it left in `leftover` (UnprocessedKeys/Items,
    DynamoDB's answer when a partition is throttled) after a growing, jittered wait. Returns every response."""
    responses = []
    for attempt in range(1, UNPROCESSED_TRIES + 1):
        with aws_errors("storage"):
            response = call(RequestItems=request)
        responses.append(response)
        request = response.get(leftover) or {}
        if not request:
            return responses
        if attempt < UNPROCESSED_TRIES:
            sleep(unprocessed_delay(attempt))
    raise ServiceUnavailable("storage is temporarily unavailable, please retry")


def batch_write(table: str, requests: list[dict[str, Any]]) -> None:
    """PutRequest/DeleteRequest entries in BatchWriteItem calls of 25."""
    for start in range(0, len(requests), 25):
        batch_until_processed(ddb().batch_write_item, {table: requests[start : start + 25]}, "UnprocessedItems")


def update_if(**request: Any) -> dict[str, Any] | None:
    """One conditional UpdateItem: the attributes it returns ({} when none were asked for), or None when its
    condition did not hold."""
    try:
        with aws_errors("storage"):
            response = ddb().update_item(**request)
    except Exception as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return None
        raise
    return from_item(response.get("Attributes")) or {}


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def is_transient(exc: Exception) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        code = error_code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in _TRANSIENT_CODES or status >= 500
    return isinstance(exc, BotoCoreError)


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Turn transient AWS failures into ServiceUnavailable (503 + Retry-After); let the rest propagate."""
    try:
        yield
    except Exception as exc:
        if is_transient(exc):
            raise ServiceUnavailable(f"{what} is temporarily unavailable, please retry") from exc
        raise


def cancellation_codes(exc: Exception) -> list[str]:
    response = getattr(exc, "response", None) or {}
    return [reason.get("Code", "None") for reason in response.get("CancellationReasons", [])]


class TransactionCancelled(Exception):
    """A TransactWriteItems was cancelled; `codes` holds one reason per operation ("None" = fine), and `items`
    the item an operation with ReturnValuesOnConditionCheckFailure=ALL_OLD found (else None)."""

    def __init__(self, codes: list[str], items: list[dict[str, Any] | None] | None = None):
        super().__init__(f"transaction cancelled: {codes}")
        self.codes = codes
        self.items = items or [None] * len(codes)


def transact(ops: list[dict[str, Any]]) -> None:
    """One TransactWriteItems request: all of `ops` are written, or none."""
    try:
        with aws_errors("storage"):
            ddb().transact_write_items(TransactItems=ops)
    except Exception as exc:
        if error_code(exc) == "TransactionCanceledException":
            reasons = (getattr(exc, "response", None) or {}).get("CancellationReasons", [])
            raise TransactionCancelled(cancellation_codes(exc), [from_item(r.get("Item")) for r in reasons]) from exc
        raise
