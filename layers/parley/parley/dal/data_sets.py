"""Data sets, their products and documents, in one table: one partition per data set.

    pk = DS#<id>  sk = META            name, counts, index version, answer settings
    pk = DS#<id>  sk = PRODUCT#<sku>   one product (upserted by sku)
    pk = DS#<id>  sk = DOC#<key>       one document (upserted by url, or title when it has none)
    pk = DS#<id>  sk = ~<version, base 36>#PRODUCT#<sku> | ~<version>#DOC#<key>
                                       an item of a load not yet published (see logic/data_sets.load); the
                                       prefix is short (13 bytes) so that the longest document key still fits
                                       a sort key's 1,024 bytes, and `~` sorts after every live row

A load is published all or nothing: its items are written as staged rows, which reads ignore, and become
part of the data set in one conditional write to META (the new index version, with `staged_version`);
the staged rows are then copied over the live ones. Until that copy is done, reads lay the staged rows
of `staged_version` over the live rows, so a copy cut short changes nothing a reader sees.

The sparse index `all_data_sets` (list_pk = "DATASET", id) lists every data set for admins.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from parley.config import settings
from parley.dal.counters import next_value
from parley.dal.dynamo import (
    aws_errors,
    batch_until_processed,
    batch_write,
    ddb,
    from_item,
    query_all,
    to_attr,
    to_item,
    update_if,
)
from parley.ids import now_iso

if TYPE_CHECKING:
    from parley.dal.entities import DataSet

META = "META"
_COUNTER_KEY = {"pk": {"S": "COUNTER"}, "sk": {"S": "DATASET"}}


def _key(data_set_id: int, sk: str = META) -> dict[str, Any]:
    return {"pk": {"S": f"DS#{data_set_id}"}, "sk": {"S": sk}}


def product_sk(sku: str) -> str:
    return f"PRODUCT#{sku}"


def document_sk(key: str) -> str:
    return f"DOC#{key}"


STAGED = "~"


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, digit = divmod(number, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + digits
        if not number:
            return digits


def staged_sk(version: int, sk: str) -> str:
    return f"{STAGED}{_base36(version)}#{sk}"


def _staged(sk: str) -> tuple[int, str] | None:
    """(version, live sort key) of a staged row's sort key, None for any other row."""
    if not sk.startswith(STAGED):
        return None
    version, _, live = sk[len(STAGED) :].partition("#")
    return int(version, 36), live


class DataSetRepository:
    def __init__(self, table: str | None = None):
        self.table = table or settings().data_sets_table

    def create(self, name: str, created_by: int) -> DataSet:
        data_set_id = next_value(self.table, _COUNTER_KEY, "value")
        item: DataSet = {
            "pk": f"DS#{data_set_id}",
            "sk": META,
            "list_pk": "DATASET",
            "id": data_set_id,
            "name": name,
            "created_at": now_iso(),
            "created_by": created_by,
            "product_count": 0,
            "document_count": 0,
            "index_version": 0,
        }
        with aws_errors("storage"):
            ddb().put_item(TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")
        return item

    def get(self, data_set_id: int) -> DataSet | None:
        with aws_errors("storage"):
            response = ddb().get_item(TableName=self.table, Key=_key(data_set_id))
        return cast("DataSet | None", from_item(response.get("Item")))

    def get_many(self, data_set_ids: Iterable[int]) -> list[DataSet]:
        ids = sorted(set(data_set_ids))
        found: list[DataSet] = []
        for start in range(0, len(ids), 100):
            keys = [_key(i) for i in ids[start : start + 100]]
            request: dict[str, Any] = {self.table: {"Keys": keys}}
            for response in batch_until_processed(ddb().batch_get_item, request, "UnprocessedKeys"):
                found.extend(cast("DataSet", from_item(i)) for i in response.get("Responses", {}).get(self.table, []))
        return sorted(found, key=lambda item: item["id"])

    def list_all(self) -> list[DataSet]:
        return cast(
            "list[DataSet]",
            query_all(
                TableName=self.table,
                IndexName="all_data_sets",
                KeyConditionExpression="list_pk = :p",
                ExpressionAttributeValues={":p": {"S": "DATASET"}},
            ),
        )

    def stage(self, data_set_id: int, version: int, sk_and_items: list[tuple[str, dict[str, Any]]]) -> None:
        """Write a load's items as staged rows of `version` (a later duplicate key in the load wins)."""
        latest = dict(sk_and_items)
        batch_write(
            self.table,
            [
                {"PutRequest": {"Item": {**_key(data_set_id, staged_sk(version, sk)), **to_item(item)}}}
                for sk, item in latest.items()
            ],
        )

    def _rows(self, data_set_id: int) -> list[dict[str, Any]]:
        # consistent: an index is built right after the load's writes and must see every one of them
        return query_all(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"DS#{data_set_id}"}},
            ConsistentRead=True,
        )

    def contents(
        self, data_set_id: int, staged: int | None = None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Every product and document of a data set (to rebuild its search index): the live rows, with the
        published-but-not-yet-copied staged rows laid over them, and those of version `staged` too."""
        live: dict[str, dict[str, Any]] = {}
        staged_rows: dict[int, dict[str, dict[str, Any]]] = {}
        pending = None
        for item in self._rows(data_set_id):
            sk = item.pop("sk")
            item.pop("pk")
            found = _staged(sk)
            if found:
                staged_rows.setdefault(found[0], {})[found[1]] = item
            elif sk == META:
                pending = item.get("staged_version")
            else:
                live[sk] = item
        for version in (pending, staged):
            if version is not None:
                live.update(staged_rows.get(version, {}))
        products = [item for sk, item in sorted(live.items()) if sk.startswith("PRODUCT#")]
        documents = [item for sk, item in sorted(live.items()) if sk.startswith("DOC#")]
        return products, documents

    def publish(
        self, data_set_id: int, version: int, index_key: str, product_count: int, document_count: int
    ) -> str | None:
        """The switch-over: point the data set at a newer index snapshot and make the staged rows of
        `version` part of it, in one conditional write. Returns the index key it replaced ("" for none), or
        None when a newer version is already published."""
        replaced = update_if(
            TableName=self.table,
            Key=_key(data_set_id),
            UpdateExpression="SET index_version = :v, index_key = :k, product_count = :p, "
            "document_count = :d, updated_at = :now, staged_version = :v",
            ConditionExpression="attribute_exists(pk) AND index_version < :v",
            ExpressionAttributeValues={
                ":v": to_attr(version),
                ":k": to_attr(index_key),
                ":p": to_attr(product_count),
                ":d": to_attr(document_count),
                ":now": to_attr(now_iso()),
            },
            ReturnValues="UPDATED_OLD",
        )
        return None if replaced is None else str(replaced.get("index_key") or "")

    def settle_staged(self, data_set_id: int) -> None:
        """Copy the published staged rows over the live ones, and delete every staged row (those of loads
        that failed or never published too). Safe to repeat; loads of a data set run one at a time."""
        rows = self._rows(data_set_id)
        meta = next((r for r in rows if r["sk"] == META), {})
        pending = meta.get("staged_version")
        writes, deletes = [], []
        for row in rows:
            found = _staged(row["sk"])
            if not found:
                continue
            if found[0] == pending:
                writes.append({"PutRequest": {"Item": to_item({**row, "sk": found[1]})}})
            deletes.append({"DeleteRequest": {"Key": _key(data_set_id, row["sk"])}})
        batch_write(self.table, writes)
        if pending is not None:
            update_if(
                TableName=self.table,
                Key=_key(data_set_id),
                UpdateExpression="REMOVE staged_version",
                ConditionExpression="staged_version = :v",
                ExpressionAttributeValues={":v": to_attr(pending)},
            )
        batch_write(self.table, deletes)

    def set_settings(self, data_set_id: int, answer_settings: dict[str, Any]) -> DataSet | None:
        """Replace the data set's answer settings; returns the updated item, or None if there is no such data set."""
        return cast(
            "DataSet | None",
            update_if(
                TableName=self.table,
                Key=_key(data_set_id),
                UpdateExpression="SET answer_settings = :s, updated_at = :now",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={
                    ":s": to_attr({k: v for k, v in answer_settings.items() if v is not None}),
                    ":now": to_attr(now_iso()),
                },
                ReturnValues="ALL_NEW",
            ),
        )
