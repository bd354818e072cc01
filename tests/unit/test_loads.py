"""Loads through the API and the worker: consistent reads for the index rebuild, published all or nothing,
and backoff on what DynamoDB leaves unprocessed."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from parley import aws, config
from parley.dal import dynamo
from parley.dal.data_sets import STAGED, DataSetRepository

PRODUCTS = "/api/data_sets/1/products"


def products(prefix: str, count: int) -> list[dict]:
    return [
        {"sku": f"{prefix}-{i}", "name": f"Item {prefix} {i}", "description": "A thing to sell."} for i in range(count)
    ]


def load(admin, drain, items: list[dict]) -> dict:
    sent = admin.post(PRODUCTS, {"products": items})
    assert sent.status == 202
    drain()
    return admin.get(f"/api/task_status/{sent.json()['task_id']}").json()


def skus(data_set_id: int = 1) -> set[str]:
    return {p["sku"] for p in DataSetRepository().contents(data_set_id)[0]}


def fail_call(monkeypatch, operation: str, on_call: int, times: int = 1_000) -> list[int]:
    """Make the worker's `operation` fail (a non-retryable error) from its `on_call`-th call on."""
    client = aws.client("dynamodb") if operation != "put_object" else aws.client("s3")
    real = getattr(client, operation)
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if on_call <= len(calls) < on_call + times:
            raise ClientError(
                {
                    "Error": {"Code": "ValidationException", "Message": "broken"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                operation,
            )
        return real(*args, **kwargs)

    monkeypatch.setattr(client, operation, failing)
    return calls


@pytest.fixture
def one_try(monkeypatch):
    monkeypatch.setenv("JOB_MAX_TRIES", "1")
    config.reset()


def test_the_index_rebuild_reads_the_data_set_consistently(admin, drain):
    queries = []
    client = aws.client("dynamodb")

    def seen(params, **_):
        if params.get("TableName", "").startswith("DataSets") and "IndexName" not in params:
            queries.append(params)

    client.meta.events.register("provide-client-params.dynamodb.Query", seen)
    assert load(admin, drain, products("c", 3))["state"] == "SUCCESS"
    assert queries and all(q.get("ConsistentRead") is True for q in queries)
    assert {"c-0", "c-1", "c-2"} <= skus()


@pytest.mark.parametrize(
    "operation,on_call",
    [
        ("batch_write_item", 2),  # the second chunk of 25 items
        ("put_object", 2),  # the index snapshot (the first is the payload, by the API)
    ],
)
def test_a_load_that_fails_part_way_changes_nothing(admin, drain, monkeypatch, one_try, operation, on_call):
    before = admin.get("/api/data_sets/1").json()
    live = skus()
    fail_call(monkeypatch, operation, on_call)
    status = load(admin, drain, products("f", 60))
    assert status["state"] == "FAILURE"
    monkeypatch.undo()
    assert skus() == live  # not one of the 60 is part of the data set
    after = admin.get("/api/data_sets/1").json()
    assert after["product_count"] == before["product_count"]

    config.reset()
    assert load(admin, drain, products("g", 2))["state"] == "SUCCESS"
    assert skus() == live | {"g-0", "g-1"}  # the failed load's staged rows did not come back either
    assert admin.get("/api/data_sets/1").json()["product_count"] == before["product_count"] + 2
    rows = DataSetRepository()._rows(1)
    assert not [r for r in rows if r["sk"].startswith(STAGED)]  # and were cleaned up


def test_a_load_cut_short_after_publishing_is_whole_and_finished_by_the_next(admin, drain, monkeypatch, one_try):
    repo_class = DataSetRepository
    real = repo_class.settle_staged
    calls = []

    def crash_on_the_second(self, data_set_id):
        calls.append(1)
        if len(calls) == 2:  # the copy after the switch-over
            raise RuntimeError("the Lambda timed out")
        return real(self, data_set_id)

    monkeypatch.setattr(repo_class, "settle_staged", crash_on_the_second)
    live = skus()
    load(admin, drain, products("p", 30))
    monkeypatch.undo()
    assert skus() == live | {f"p-{i}" for i in range(30)}  # published: every item, none missing
    config.reset()
    assert load(admin, drain, products("q", 1))["state"] == "SUCCESS"
    assert skus() == live | {f"p-{i}" for i in range(30)} | {"q-0"}
    assert not [r for r in DataSetRepository()._rows(1) if r["sk"].startswith(STAGED)]


def test_unprocessed_items_are_resent_after_a_growing_jittered_wait(admin, drain, monkeypatch):
    client = aws.client("dynamodb")
    real = client.batch_write_item
    calls, waits = [], []

    def throttled_twice(**kwargs):
        calls.append(1)
        if len(calls) <= 2:  # DynamoDB answers with everything unprocessed (a throttled partition)
            return {"UnprocessedItems": kwargs["RequestItems"]}
        return real(**kwargs)

    monkeypatch.setattr(client, "batch_write_item", throttled_twice)
    monkeypatch.setattr(dynamo, "sleep", waits.append)
    assert load(admin, drain, products("u", 3))["state"] == "SUCCESS"
    assert len(waits) == 2
    assert 0 <= waits[0] <= dynamo.UNPROCESSED_BASE_SECONDS * 2 and 0 <= waits[1] <= dynamo.UNPROCESSED_BASE_SECONDS * 4
    assert {"u-0", "u-1", "u-2"} <= skus()


def test_the_unprocessed_backoff_is_exponential_full_jitter_and_capped():
    for attempt in range(1, 12):
        cap = min(dynamo.UNPROCESSED_MAX_SECONDS, dynamo.UNPROCESSED_BASE_SECONDS * 2**attempt)
        delays = [dynamo.unprocessed_delay(attempt) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays) and len(set(delays)) > 1


def test_unprocessed_items_that_never_go_through_are_a_retryable_failure(admin, drain, monkeypatch):
    client = aws.client("dynamodb")
    monkeypatch.setattr(client, "batch_write_item", lambda **kwargs: {"UnprocessedItems": kwargs["RequestItems"]})
    monkeypatch.setattr(dynamo, "sleep", lambda seconds: None)
    sent = admin.post(PRODUCTS, {"products": products("n", 2)})
    from parley import batch

    monkeypatch.setattr(batch, "retry_delay", lambda tries: 0)
    drain(max_batches=1)
    assert admin.get(f"/api/task_status/{sent.json()['task_id']}").json()["state"] == "PENDING"  # retried later


def test_a_replaced_index_snapshot_is_tagged_for_the_lifecycle_rule(admin, drain, cloud):
    import boto3

    first = DataSetRepository().get(1)["index_key"]
    assert load(admin, drain, products("t", 1))["state"] == "SUCCESS"
    current = DataSetRepository().get(1)["index_key"]
    s3 = boto3.client("s3")
    bucket = cloud.physical["IndexBucket"]["Ref"]
    assert s3.get_object_tagging(Bucket=bucket, Key=first)["TagSet"] == [{"Key": "superseded", "Value": "true"}]
    assert s3.get_object_tagging(Bucket=bucket, Key=current)["TagSet"] == []
    rules = {r["Id"]: r for r in cloud.stack.resources["IndexBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireSupersededIndexSnapshots"]["TagFilters"] == [{"Key": "superseded", "Value": "true"}]
