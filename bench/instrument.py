"""Counts and times every AWS request a process makes, per Lambda function, with botocore event hooks.

`install()` wraps `boto3.session.Session.client` so every client created afterwards (the handlers' lazy
clients in `parley.aws` and the local queue pump's) gets `before-call` / `after-call` hooks, and wraps
`parley_local.environment.run_handler` (every invocation, in the stack's process with --in-process, else in
each environment process that imports this first) so calls are attributed to the function that made them (a
thread-local; the pump's own ReceiveMessage / DeleteMessageBatch are attributed to the event source mapping). With
`capacity=True` a `before-parameter-build` hook asks DynamoDB for ReturnConsumedCapacity=TOTAL (harness
only, the product code does not ask for it).
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

EVENT_SOURCE = "QueuePump (SQS event source mapping)"
_state = threading.local()


def current_function() -> str:
    return getattr(_state, "function", None) or EVENT_SOURCE


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[dict[str, Any]] = []  # {"fn", "service", "op", "seconds", "params", "parsed"}

    def mark(self) -> int:
        return len(self.calls)

    def since(self, mark: int) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.calls[mark:])


RECORDER = Recorder()
_installed = False


def _hooks(client: Any, capacity: bool, keep_payloads: bool, record: bool) -> None:
    service = client.meta.service_model.service_name

    def before_params(params: dict, model: Any, context: dict, **_: Any) -> None:
        if capacity and model.input_shape is not None and "ReturnConsumedCapacity" in model.input_shape.members:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")
        context["bench_params"] = params

    def before_call(model: Any, params: dict, context: dict, **_: Any) -> None:
        context["bench_started"] = time.perf_counter()

    def after_call(model: Any, parsed: dict, context: dict, **_: Any) -> None:
        seconds = time.perf_counter() - context.get("bench_started", time.perf_counter())
        entry = {
            "fn": current_function(),
            "service": service,
            "op": model.name,
            "seconds": seconds,
            "thread": threading.get_ident(),
        }
        timings = getattr(_state, "aws", None)
        if timings is not None:
            timings.append((f"{service}:{model.name}", seconds))
        if not record:
            return
        if keep_payloads:
            entry["params"] = context.get("bench_params") or {}
            entry["parsed"] = parsed
        with RECORDER.lock:
            RECORDER.calls.append(entry)

    client.meta.events.register("before-parameter-build", before_params)
    client.meta.events.register("before-call", before_call)
    client.meta.events.register("after-call", after_call)


def current_aws_calls() -> list[tuple[str, float]] | None:
    """The ("service:Operation", seconds) of each AWS request the current invocation made so far."""
    return getattr(_state, "aws", None)


def install(
    capacity: bool = False,
    keep_payloads: bool = False,
    record: bool = True,
    on_invoke: Callable[[str, dict, Any, float, float, list[tuple[str, float]]], None] | None = None,
) -> None:
    """Instrument clients created from now on, and attribute them to the invoking function.

    `on_invoke(function, event, result, started, ended, aws)` runs after every invocation; `aws` holds the
    ("service:Operation", seconds) of each AWS request it made."""
    global _installed
    if _installed:
        return
    _installed = True
    import boto3.session

    from parley_local import environment

    original_client = boto3.session.Session.client

    def client(self, *args: Any, **kwargs: Any) -> Any:
        made = original_client(self, *args, **kwargs)
        _hooks(made, capacity, keep_payloads, record)
        return made

    boto3.session.Session.client = client

    original_run = environment.run_handler

    def run_handler(name: str, handler: Callable, event: dict, context: Any) -> Any:
        outer, outer_aws = getattr(_state, "function", None), getattr(_state, "aws", None)
        _state.function, _state.aws = name, []
        started = time.time()
        try:
            result = original_run(name, handler, event, context)
        finally:
            ended = time.time()
            aws_times = _state.aws
            _state.function, _state.aws = outer, outer_aws
        if on_invoke is not None:
            on_invoke(name, event, result, started, ended, aws_times)
        return result

    environment.run_handler = run_handler


def count(calls: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """{function: {"dynamodb:GetItem": n, ...}}"""
    out: dict[str, Counter] = defaultdict(Counter)
    for call in calls:
        out[call["fn"]][f"{call['service']}:{call['op']}"] += 1
    return {fn: dict(c) for fn, c in out.items()}


# ------------------------------------------------------------------ capacity units from item sizes


def attr_size(value: dict[str, Any]) -> int:
    """DynamoDB's documented size of an attribute value (bytes)."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "N":
        digits = inner.lstrip("-").replace(".", "").lstrip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(inner) if isinstance(inner, (bytes, bytearray)) else len(inner) * 3 // 4
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + attr_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + attr_size(v) for k, v in inner.items())
    if kind in ("SS", "NS", "BS"):
        return sum(attr_size({kind[0]: v}) for v in inner)
    return 0


def item_size(item: dict[str, Any] | None) -> int:
    return sum(len(k.encode("utf-8")) + attr_size(v) for k, v in (item or {}).items())


class CapacityEstimator:
    """Read/write request units of each DynamoDB call, computed the way on-demand DynamoDB bills them:
    writes 1 WRU per started KB of the item (2 in a transaction, +1 per GSI the item appears in), reads
    1 RRU per started 4 KB (half for eventually consistent reads, 2 in a transaction). Items changed by an
    UpdateItem are sized by reading them back afterwards with an uninstrumented client."""

    def __init__(self, plain_client: Any, table_gsi_keys: dict[str, list[list[str]]]):
        self.ddb = plain_client
        self.gsi = table_gsi_keys

    def _key_of(self, table: str, key: dict) -> dict:
        return key

    def _current(self, table: str, key: dict) -> dict:
        return self.ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item") or {}

    def _write_units(self, table: str, item: dict, factor: int) -> float:
        units = math.ceil(max(item_size(item), 1) / 1024) * factor
        for keys in self.gsi.get(table, []):
            if all(k in item for k in keys):
                units += math.ceil(max(item_size(item), 1) / 1024)
        return units

    @staticmethod
    def _read_units(size: int, consistent: bool, factor: int = 1) -> float:
        units = math.ceil(max(size, 1) / 4096) * factor
        return units if consistent or factor > 1 else units / 2

    def units(self, call: dict[str, Any]) -> tuple[float, float]:
        """(read units, write units) of one recorded DynamoDB call."""
        if call["service"] != "dynamodb":
            return 0.0, 0.0
        op, params, parsed = call["op"], call.get("params") or {}, call.get("parsed") or {}
        if op in ("GetItem", "Query", "Scan", "BatchGetItem"):
            return self._call_read_units(op, params, parsed), 0.0
        return 0.0, self._call_write_units(op, params)

    def _call_read_units(self, op: str, params: dict[str, Any], parsed: dict[str, Any]) -> float:
        if op == "GetItem":
            return self._read_units(item_size(parsed.get("Item")), bool(params.get("ConsistentRead")))
        if op in ("Query", "Scan"):
            size = sum(item_size(i) for i in parsed.get("Items", []))
            return self._read_units(size, bool(params.get("ConsistentRead")))
        reads = 0.0  # BatchGetItem
        for table, items in parsed.get("Responses", {}).items():
            consistent = bool(params["RequestItems"][table].get("ConsistentRead"))
            reads += sum(self._read_units(item_size(i), consistent) for i in items)
        return reads

    def _call_write_units(self, op: str, params: dict[str, Any]) -> float:
        if op == "PutItem":
            return self._write_units(params["TableName"], params["Item"], 1)
        if op in ("UpdateItem", "DeleteItem"):
            item = self._current(params["TableName"], params["Key"]) if op == "UpdateItem" else params["Key"]
            return self._write_units(params["TableName"], item, 1)
        if op == "BatchWriteItem":
            writes = 0.0
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    item = (request.get("PutRequest") or {}).get("Item") or request["DeleteRequest"]["Key"]
                    writes += self._write_units(table, item, 1)
            return writes
        if op == "TransactWriteItems":
            writes = 0.0
            for entry in params["TransactItems"]:
                ((kind, spec),) = entry.items()
                if kind == "Put":
                    item = spec["Item"]
                elif kind == "Update":
                    item = self._current(spec["TableName"], spec["Key"])
                else:
                    item = spec["Key"]
                writes += self._write_units(spec["TableName"], item, 2)
            return writes
        return 0.0
