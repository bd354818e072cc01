"""Small sequential ids for rarely created things (data sets, accounts): one atomic counter per table."""

from __future__ import annotations

from parley.dal.dynamo import aws_errors, ddb


def next_value(table: str, key: dict, name: str) -> int:
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
