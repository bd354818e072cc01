"""Service accounts: pk = ACCOUNT#<id>, with the SHA-256 hash of the current token (never the token)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from parley.config import settings
from parley.dal.counters import next_value, raise_to
from parley.dal.dynamo import aws_errors, ddb, from_item, to_attr, to_item, update_if
from parley.ids import now_iso

if TYPE_CHECKING:
    from parley.dal.entities import Account

_COUNTER_KEY = {"pk": {"S": "COUNTER#ACCOUNT"}}


def _key(account_id: int) -> dict[str, Any]:
    return {"pk": {"S": f"ACCOUNT#{account_id}"}}


class AccountRepository:
    def __init__(self, table: str | None = None):
        self.table = table or settings().accounts_table

    def next_id(self) -> int:
        return next_value(self.table, _COUNTER_KEY, "value")

    def reserve_id(self, account_id: int) -> None:
        """Keep the id counter at or past a chosen id (the dev account's fixed token names its id)."""
        raise_to(self.table, _COUNTER_KEY, "value", account_id)

    def create(self, account_id: int, name: str, is_admin: bool, data_set_ids: list[int], token_hash: str) -> Account:
        item: Account = {
            "pk": f"ACCOUNT#{account_id}",
            "id": account_id,
            "name": name,
            "is_admin": is_admin,
            "is_active": True,
            "data_set_ids": sorted(set(data_set_ids)),
            "created_at": now_iso(),
            "token_hash": token_hash,
        }
        with aws_errors("storage"):
            ddb().put_item(TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")
        return item

    def get(self, account_id: int) -> Account | None:
        with aws_errors("storage"):
            response = ddb().get_item(TableName=self.table, Key=_key(account_id), ConsistentRead=True)
        return cast("Account | None", from_item(response.get("Item")))

    def list(self, limit: int, after_id: int | None) -> tuple[list[Account], int | None]:
        """Accounts are few: a paginated Scan (in table order); the cursor is the last account id."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "begins_with(pk, :p)",
            "ExpressionAttributeValues": {":p": {"S": "ACCOUNT#"}},
        }
        if after_id is not None:
            kwargs["ExclusiveStartKey"] = _key(after_id)
        found: list[Account] = []
        while True:
            with aws_errors("storage"):
                response = ddb().scan(**kwargs)
            found.extend(cast("Account", from_item(i)) for i in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if len(found) >= limit or not last:
                break
            kwargs["ExclusiveStartKey"] = last
        page = found[:limit]
        more = len(found) > limit or bool(last)
        return page, (page[-1]["id"] if more and page else None)

    def update(self, account_id: int, changes: dict[str, Any]) -> Account | None:
        """Apply `changes` to an existing account; None when it does not exist."""
        if not changes:
            return self.get(account_id)
        names = {f"#f{i}": name for i, name in enumerate(changes)}
        values = {f":v{i}": to_attr(value) for i, value in enumerate(changes.values())}
        update = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(changes)))
        return cast(
            "Account | None",
            update_if(
                TableName=self.table,
                Key=_key(account_id),
                UpdateExpression=update,
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            ),
        )
