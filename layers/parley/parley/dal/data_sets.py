"""Data sets, their products and documents, in one table: one partition per data set.

    pk = DS#<id>  sk = META            name, counts, index version, answer settings
    pk = DS#<id>  sk = PRODUCT#<sku>   one product (upserted by sku)
    pk = DS#<id>  sk = DOC#<key>       one document (upserted by url, or title when it has none)

The sparse index `all_data_sets` (list_pk = "DATASET", id) lists every data set for admins.
"""

from __future__ import annotations

from typing import Any, Iterable, cast

from parley.config import settings
from parley.dal.counters import next_value
from parley.dal.entities import DataSet
from parley.dal.dynamo import aws_errors, ddb, from_item, query_all, to_attr, to_item, update_if
from parley.ids import now_iso

META = "META"
_COUNTER_KEY = {"pk": {"S": "COUNTER"}, "sk": {"S": "DATASET"}}


def _key(data_set_id: int, sk: str = META) -> dict[str, Any]:
    return {"pk": {"S": f"DS#{data_set_id}"}, "sk": {"S": sk}}


def product_sk(sku: str) -> str:
    return f"PRODUCT#{sku}"


def document_sk(key: str) -> str:
    return f"DOC#{key}"


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
            while request:
                with aws_errors("storage"):
                    response = ddb().batch_get_item(RequestItems=request)
                found.extend(cast("DataSet", from_item(i)) for i in response.get("Responses", {}).get(self.table, []))
                request = response.get("UnprocessedKeys") or {}
        return sorted(found, key=lambda item: item["id"])

    def list_all(self) -> list[DataSet]:
        return cast("list[DataSet]", query_all(
            TableName=self.table,
            IndexName="all_data_sets",
            KeyConditionExpression="list_pk = :p",
            ExpressionAttributeValues={":p": {"S": "DATASET"}},
        ))

    def upsert(self, data_set_id: int, sk_and_items: list[tuple[str, dict[str, Any]]]) -> None:
        """BatchWriteItem in chunks of 25; a later duplicate key in one call wins."""
        latest = {sk: item for sk, item in sk_and_items}
        requests = [
            {"PutRequest": {"Item": {**_key(data_set_id, sk), **to_item(item)}}} for sk, item in latest.items()
        ]
        for start in range(0, len(requests), 25):
            pending: dict[str, Any] = {self.table: requests[start : start + 25]}
            while pending:
                with aws_errors("storage"):
                    response = ddb().batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}

    def contents(self, data_set_id: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Every product and document of a data set (used to rebuild its search index)."""
        products: list[dict[str, Any]] = []
        documents: list[dict[str, Any]] = []
        for item in query_all(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"DS#{data_set_id}"}},
        ):
            sk = item.pop("sk")
            item.pop("pk")
            if sk.startswith("PRODUCT#"):
                products.append(item)
            elif sk.startswith("DOC#"):
                documents.append(item)
        return products, documents

    def set_index(self, data_set_id: int, version: int, index_key: str, product_count: int,
                  document_count: int) -> None:
        """Point the data set at a newer index snapshot (never at an older one)."""
        with aws_errors("storage"):
            ddb().update_item(
                TableName=self.table,
                Key=_key(data_set_id),
                UpdateExpression="SET index_version = :v, index_key = :k, product_count = :p, "
                "document_count = :d, updated_at = :now",
                ConditionExpression="attribute_exists(pk) AND index_version < :v",
                ExpressionAttributeValues={
                    ":v": to_attr(version),
                    ":k": to_attr(index_key),
                    ":p": to_attr(product_count),
                    ":d": to_attr(document_count),
                    ":now": to_attr(now_iso()),
                },
            )

    def set_settings(self, data_set_id: int, answer_settings: dict[str, Any]) -> DataSet | None:
        """Replace the data set's answer settings; returns the updated item, or None if there is no such data set."""
        return cast("DataSet | None", update_if(
            TableName=self.table,
            Key=_key(data_set_id),
            UpdateExpression="SET answer_settings = :s, updated_at = :now",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={
                ":s": to_attr({k: v for k, v in answer_settings.items() if v is not None}),
                ":now": to_attr(now_iso()),
            },
            ReturnValues="ALL_NEW",
        ))
