"""SQS FIFO batches with the message groups worked on side by side.

Within a group, records run in order and a failure fails the rest of that group (its order is kept); other
groups are not held up, neither by a failure nor by a slow record (a long model answer in one conversation).
Each group goes through Powertools' FIFO partial processor, in its own thread.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response

MAX_PARALLEL_GROUPS = 10  # an SQS batch holds at most 10 records


def process_fifo_batch(event: dict[str, Any], record_handler: Callable, context: Any) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in event.get("Records", []):
        group = (record.get("attributes") or {}).get("MessageGroupId", "")
        groups.setdefault(group, []).append(record)

    def run(records: list[dict[str, Any]]) -> list[dict[str, str]]:
        processor = SqsFifoPartialProcessor()  # one per thread: a processor holds the state of one batch
        try:
            response = process_partial_response(event={"Records": records}, record_handler=record_handler,
                                                 processor=processor, context=context)
        except Exception:  # every record of the group failed (Powertools raises for a wholly failed batch)
            return [{"itemIdentifier": r["messageId"]} for r in records]
        return response.get("batchItemFailures", [])

    if len(groups) <= 1:
        failures = [f for records in groups.values() for f in run(records)]
    else:
        with ThreadPoolExecutor(max_workers=min(len(groups), MAX_PARALLEL_GROUPS)) as pool:
            # each thread runs in a copy of the invocation's context (its log keys, its tracing segment)
            futures = [pool.submit(contextvars.copy_context().run, run, records) for records in groups.values()]
            failures = [f for future in futures for f in future.result()]
    return {"batchItemFailures": failures}
