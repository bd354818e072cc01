"""Data sets: listing what a caller may use, creating them, and loading products and documents.

Loading is a task: the payload goes to S3, a PENDING task is written, and an ingestion job is queued
(group = the data set, so loads into one data set apply in order). The worker upserts the items and
publishes a new knowledge snapshot (search index + typed catalog).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from parley.auth import Principal
from parley.dal import blobs, idempotency, jobs
from parley.dal.data_sets import DataSetRepository, document_sk, product_sk
from parley.dal.dynamo import TransactionCancelled
from parley.dal.idempotency import IdempotencyKey
from parley.dal.tasks import FAILURE, TaskRepository
from parley.errors import Forbidden, NotFound, ServiceUnavailable
from parley.ids import new_task_id
from parley.log import logger
from parley.logic.access import require_admin

if TYPE_CHECKING:
    from parley.dal.entities import DataSet

PRODUCTS, DOCUMENTS = "products", "documents"
DATA_SETS = "data sets"


# What a non-admin may see of the answer settings: which engine answers. A provider's URL, the name of the
# secret with its key, the system prompt and the tuning are the admin's business.
_PUBLIC_SETTINGS = ("provider", "model")


def view(item: DataSet, caller: Principal) -> dict[str, Any]:
    # settings hold only the name of the API key's secret, never the key
    settings = item.get("answer_settings") or {"provider": "extractive"}
    if not caller.is_admin:
        settings = {k: v for k, v in settings.items() if k in _PUBLIC_SETTINGS}
    return {
        "id": item["id"],
        "name": item["name"],
        "product_count": item.get("product_count", 0),
        "document_count": item.get("document_count", 0),
        "created_at": item.get("created_at"),
        "answer_settings": settings,
    }


def list_visible(caller: Principal) -> dict[str, Any]:
    repo = DataSetRepository()
    items = repo.list_all() if caller.is_admin else repo.get_many(caller.data_set_ids)
    return {"results": [view(i, caller) for i in sorted(items, key=lambda i: i["id"])]}


def get_visible(caller: Principal, data_set_id: int) -> dict[str, Any]:
    if not caller.can_use(data_set_id):
        raise Forbidden("You do not have access to this data set.")
    item = DataSetRepository().get(data_set_id)
    if item is None:
        raise NotFound("data set not found")
    return view(item, caller)


def create(caller: Principal, name: str) -> dict[str, Any]:
    require_admin(caller, DATA_SETS)
    return view(DataSetRepository().create(name.strip(), caller.account_id), caller)


def update_settings(caller: Principal, data_set_id: int, answer_settings: dict[str, Any]) -> dict[str, Any]:
    """Replace a data set's answer settings (admins only)."""
    require_admin(caller, DATA_SETS)
    updated = DataSetRepository().set_settings(data_set_id, answer_settings)
    if updated is None:
        raise NotFound("data set not found")
    return view(updated, caller)


def request_load(
    caller: Principal, data_set_id: int, kind: str, items: list[dict[str, Any]], key: IdempotencyKey | None = None
) -> dict[str, Any]:
    require_admin(caller, DATA_SETS)
    if DataSetRepository().get(data_set_id) is None:
        raise NotFound("data set not found")
    task_id = new_task_id()
    payload_key = f"ingest/{data_set_id}/{task_id}.json"
    blobs.put(payload_key, json.dumps({kind: items}).encode("utf-8"), "application/json")
    tasks = TaskRepository()
    task = tasks.new_task(
        task_id,
        f"load_{kind}",
        caller.account_id,
        data_set_id=data_set_id,
        payload_key=payload_key,
        item_count=len(items),
    )
    if key is None:
        tasks.put(task)
    else:
        try:
            replayed = idempotency.transact_claimed([tasks.put_op(task)], key, {"task_id": task_id})
        except TransactionCancelled:
            raise ServiceUnavailable("a request with this Idempotency-Key is in progress, please retry") from None
        if replayed is not None:
            return replayed  # this request's payload is left to the bucket's lifecycle rule for ingest/
    try:
        jobs.enqueue(task["kind"], task_id, jobs.group_for(task))
    except Exception:
        logger.exception("could not enqueue a load job", extra={"task_id": task_id})
        tasks.finish(
            task_id,
            FAILURE,
            error={"code": "enqueue_failed", "message": "The load could not be queued; please send it again."},
        )
        if key is not None:
            idempotency.release(key)
        raise ServiceUnavailable("the job queue is unavailable, please retry") from None
    return {"task_id": task_id}


def load(data_set_id: int, products: list[dict[str, Any]], documents: list[dict[str, Any]]) -> dict[str, int]:
    """Upsert products (by sku) and documents (by url, else title), then rebuild and publish the index.

    All or nothing: the items are staged, the index is built from the data set with them, and one write
    publishes both; a failure before it leaves the data set as it was (see dal/data_sets.py)."""
    from parley.agent import knowledge  # the answering stack is for the worker, not for API handlers

    repo = DataSetRepository()
    repo.settle_staged(data_set_id)  # finish an earlier load cut short after publishing; drop failed stages
    entries = [(product_sk(p["sku"]), p) for p in products]
    for document in documents:
        key = document.get("url") or document["title"]
        entries.append((document_sk(key), {**document, "key": key}))
    version = time.time_ns() // 1000  # later loads always publish a higher version
    repo.stage(data_set_id, version, entries)
    all_products, all_documents = repo.contents(data_set_id, staged=version)
    built = knowledge.build(all_products, all_documents)
    index_key = f"index/{data_set_id}/{version}.knowledge"  # index and catalog in one object
    blobs.put(index_key, knowledge.pack(built))
    replaced = repo.publish(data_set_id, version, index_key, len(all_products), len(all_documents))
    if replaced is None:
        raise RuntimeError("a newer index version was published meanwhile; the load is tried again")
    repo.settle_staged(data_set_id)
    if replaced:
        try:  # a lifecycle rule removes superseded snapshots a day later (template.yaml)
            blobs.tag(replaced, {"superseded": "true"})
        except Exception:
            logger.warning("could not mark a superseded index snapshot", extra={"key": replaced})
    return {"upserted": len(entries), "product_count": len(all_products), "document_count": len(all_documents)}
