"""Small sequential ids for rarely created things (data sets, accounts): one atomic counter per table."""

from __future__ import annotations

from parley.dal.dynamo import aws_errors, ddb, update_if


def next_value(table: str, key: dict[str, dict[str, str]], name: str) -> int:
    with aws_errors("storage"):
        response = ddb().update_item(
            TableName=table,
            Key=key,
            UpdateExpression="ADD #v :one",
            ExpressionAttributeNames={"#v": name},
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
    return int(response["Attributes"][name]["N"])


def raise_to(table: str, key: dict[str, dict[str, str]], name: str, at_least: int) -> None:
    """Make sure the counter is at least `at_least` (so later next_value calls never hand out that id)."""
    update_if(
        TableName=table,
        Key=key,
        UpdateExpression="SET #v = :n",
        ConditionExpression="attribute_not_exists(#v) OR #v < :n",
        ExpressionAttributeNames={"#v": name},
        ExpressionAttributeValues={":n": {"N": str(at_least)}},
    )
