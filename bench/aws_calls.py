"""2. AWS requests per operation: the real handlers through the API Gateway emulation (`Gateway`) and the
SQS event source emulation (`QueuePump`) against moto in-process, every request counted with botocore
hooks (bench/instrument.py), plus the request units DynamoDB would bill and each handler's warm duration."""

from __future__ import annotations

import argparse
import json
import os
import random
from collections import defaultdict
from typing import Any

from bench import instrument
from bench.common import DEV_TOKEN, median

TARGETS = {
    "create conversation": "<= 2 DynamoDB requests",
    "send message": "1 DynamoDB write + 1 SQS send",
    "send message with Idempotency-Key": "1 DynamoDB write + 1 SQS send",
    "send message, retried with its Idempotency-Key": "1 DynamoDB write (cancelled), nothing queued",
    "task status": "1 DynamoDB read",
    "read conversation (10 messages)": "1 Query",
    "read conversation (100 messages)": "1 Query",
    "worker turn (answer)": "<= 4 DynamoDB + the SQS delete",
}


def synthetic_products(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    kinds = ["fiber", "router", "mesh", "tv", "mobile", "business", "repeater", "voip"]
    words = ["fast", "stable", "family", "gaming", "office", "compact", "premium", "basic", "outdoor", "smart"]
    out = []
    for i in range(count):
        kind = rng.choice(kinds)
        out.append(
            {
                "sku": f"SKU-{i:06d}",
                "name": f"{rng.choice(words).title()} {kind} {i}",
                "description": " ".join(rng.choice(words + kinds) for _ in range(25)),
                "properties": {"speed_mbps": rng.choice([100, 300, 500, 1000]), "contract_months": 12},
                "categories": [kind],
                "price": round(rng.uniform(5, 120), 2),
            }
        )
    return out


def run() -> dict[str, Any]:
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    os.environ.pop("AWS_ENDPOINT_URL", None)
    durations: dict[str, list[float]] = defaultdict(list)

    def on_invoke(fn: str, event: dict, result: Any, started: float, ended: float, aws: list) -> None:
        durations[fn].append(ended - started)

    instrument.install(capacity=True, keep_payloads=True, on_invoke=on_invoke)
    from moto import mock_aws

    with mock_aws():
        import boto3

        from parley_local import stack as local_stack

        local_stack.use_emulated_aws(None)
        os.environ.pop("AWS_ENDPOINT_URL", None)
        local = local_stack.build(None, start_pump=False)
        account = local_stack.seed(DEV_TOKEN)
        os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # the template's INFO would log every request
        gateway, pump = local.gateway, local.pump
        headers = [("content-type", "application/json"), ("authorization", f"Token {account['token']}")]
        plain = boto3.session.Session().client("dynamodb")  # created after install: its calls are dropped
        gsi: dict[str, list[list[str]]] = {}
        for logical, names in local.physical.items():
            if logical.endswith("Table"):
                table = plain.describe_table(TableName=names["Ref"])["Table"]
                gsi[names["Ref"]] = [
                    [k["AttributeName"] for k in index["KeySchema"]]
                    for index in table.get("GlobalSecondaryIndexes", [])
                ]
        estimator = instrument.CapacityEstimator(plain, gsi)

        def call(method: str, path: str, body: Any = None, extra_headers: tuple = ()):
            response = gateway.handle(
                method, path, headers + list(extra_headers), b"" if body is None else json.dumps(body).encode()
            )
            assert response.status < 400, (method, path, response.status, response.body[:300])
            return response

        def drain() -> None:
            while pump.drain_once(0):
                pass

        results: dict[str, Any] = {}

        def measure(name: str, action) -> Any:
            mark = instrument.RECORDER.mark()
            value = action()
            calls = [
                c
                for c in instrument.RECORDER.since(mark)
                if c.get("params") is not None or c["service"] != "dynamodb" or True
            ]
            calls = [c for c in calls if not (c["service"] == "dynamodb" and c["op"] in ("DescribeTable",))]
            reads = writes = 0.0
            for c in calls:
                r, w = estimator.units(c)
                reads, writes = reads + r, writes + w
            reported = sum(_reported_units(c) for c in calls)
            results[name] = {
                "requests": instrument.count(calls),
                "rru": reads,
                "wru": writes,
                "moto_reported_units": reported,
                "sqs_requests": sum(1 for c in calls if c["service"] == "sqs"),
                "dynamodb_requests": sum(1 for c in calls if c["service"] == "dynamodb"),
                "s3_requests": sum(1 for c in calls if c["service"] == "s3"),
            }
            return value

        call("GET", "/api/data_sets")  # warm the authorizer cache: steady state is what a turn costs
        gateway.clear_authorizer_cache()
        measure(
            "list data sets on an authorizer cache miss (authorizer: 1 GetItem)", lambda: call("GET", "/api/data_sets")
        )
        # warm every pool used below so the counts and durations are of warm instances
        warm = call("POST", "/api/conversations", {"data_set_id": 1}).json()["id"]
        warm_task = call("POST", f"/api/conversations/{warm}", {"question_message": "hi"}).json()["task_id"]
        call("GET", f"/api/task_status/{warm_task}")
        drain()
        call("GET", f"/api/conversations/{warm}")
        call("GET", "/api/conversations")
        durations.clear()

        conversation = measure(
            "create conversation", lambda: call("POST", "/api/conversations", {"data_set_id": 1}).json()["id"]
        )
        task = measure(
            "send message",
            lambda: call(
                "POST",
                f"/api/conversations/{conversation}",
                {"question_message": "Does Business Duplex include an SLA?"},
            ).json()["task_id"],
        )
        measure("task status", lambda: call("GET", f"/api/task_status/{task}"))
        measure("worker turn (answer)", lambda: pump.drain_once(0))
        keyed = (("idempotency-key", "bench-send-1"),)
        for name in ("send message with Idempotency-Key", "send message, retried with its Idempotency-Key"):
            measure(
                name,
                lambda: call(
                    "POST", f"/api/conversations/{conversation}", {"question_message": "Is a router included?"}, keyed
                ),
            )
        drain()
        questions = [
            "What does Home 300 cost?",
            "Is a router included?",
            "Do you offer TV?",
            "How do I cancel?",
            "Is there an SLA for business?",
        ]
        for size in (10, 100):
            cid = call("POST", "/api/conversations", {"data_set_id": 1}).json()["id"]
            for i in range(size // 2):
                call("POST", f"/api/conversations/{cid}", {"question_message": questions[i % len(questions)]})
                drain()
            body = measure(
                f"read conversation ({size} messages)", lambda cid=cid: call("GET", f"/api/conversations/{cid}").json()
            )
            assert len(body["history"]) == size, len(body["history"])
        measure("delete conversation (100 messages)", lambda: call("DELETE", f"/api/conversations/{cid}"))
        measure("list conversations", lambda: call("GET", "/api/conversations"))
        data_set = call("POST", "/api/data_sets", {"name": "bench ingest"}).json()["id"]
        products = synthetic_products(1000)
        load_task = measure(
            "ingest 1,000 products: API",
            lambda: call("POST", f"/api/data_sets/{data_set}/products", {"products": products}).json()["task_id"],
        )
        measure("ingest 1,000 products: worker", drain)
        state = call("GET", f"/api/task_status/{load_task}").json()
        results["ingest 1,000 products: worker"]["task_state"] = state.get("status") or state.get("state")
    return {
        "operations": results,
        "targets": TARGETS,
        "warm_durations_s": {fn: median(v) for fn, v in durations.items()},
        "warm_duration_samples": {fn: len(v) for fn, v in durations.items()},
    }


def _reported_units(call: dict[str, Any]) -> float:
    parsed = call.get("parsed") or {}
    consumed = parsed.get("ConsumedCapacity")
    if isinstance(consumed, dict):
        return float(consumed.get("CapacityUnits") or 0)
    if isinstance(consumed, list):
        return float(sum(c.get("CapacityUnits") or 0 for c in consumed))
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    result = run()
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=1, default=str)


if __name__ == "__main__":
    main()
