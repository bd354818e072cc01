"""SQS FIFO batches with the message groups worked on side by side.

Within a group, records run in order and a failure stops the group (its order is kept): the failed record
and the untried ones behind it are reported as batch item failures. Other groups are not held up, neither by
a failure nor by a slow record (a long model answer in one conversation): each group runs in its own thread.

A failed group comes back after a short backoff, not after the queue's visibility timeout: its records'
visibility is changed to the retry delay (exponential in the failed record's tries, with jitter). The
records behind the failed one were not tried; their deliveries are spent by SQS all the same, which is why
the worker counts tries on the task itself (see logic/worker.py) rather than trusting receive counts.
"""

from __future__ import annotations

import contextvars
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from parley.log import logger

MAX_PARALLEL_GROUPS = 10  # an SQS batch holds at most 10 records
RETRY_BASE_SECONDS = 5
RETRY_MAX_SECONDS = 300  # below the queue's visibility timeout, so a backoff never waits longer than it


def retry_delay(tries: int) -> int:
    """Seconds before a record that failed on its `tries`-th try comes back: half of the exponential step
    fixed, half random, so conversations that failed together do not come back together."""
    step: int = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, tries - 1))
    return step // 2 + random.randint(0, step - step // 2)


def _run_group(
    records: list[dict[str, Any]], record_handler: Callable[[SQSRecord, Any], None], context: Any
) -> tuple[list[dict[str, Any]], int]:
    """Run a group's records in order: (the failed record and those behind it, its tries), ([], 0) if none."""
    for position, record in enumerate(records):
        try:
            record_handler(SQSRecord(record), context)
        except Exception as exc:
            logger.exception(
                "record failed; it and the rest of its group are retried",
                extra={"message_id": record.get("messageId"), "untried": len(records) - position - 1},
            )
            tries = getattr(exc, "tries", None)
            if not isinstance(tries, int):
                tries = int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
            return records[position:], tries
    return [], 0


def process_fifo_batch(
    event: dict[str, Any],
    record_handler: Callable[[SQSRecord, Any], None],
    context: Any,
    delay: Callable[[list[tuple[str, int]]], None] | None = None,
) -> dict[str, Any]:
    """The batch's failures for ReportBatchItemFailures. `record_handler(record, context)` runs each record;
    `delay([(receipt_handle, seconds)])` sets when the failed records come back."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in event.get("Records", []):
        group = (record.get("attributes") or {}).get("MessageGroupId", "")
        groups.setdefault(group, []).append(record)

    if len(groups) <= 1:
        outcomes = [_run_group(records, record_handler, context) for records in groups.values()]
    else:
        with ThreadPoolExecutor(max_workers=min(len(groups), MAX_PARALLEL_GROUPS)) as pool:
            # each thread runs in a copy of the invocation's context (its log keys, its tracing segment)
            futures = [
                pool.submit(contextvars.copy_context().run, _run_group, records, record_handler, context)
                for records in groups.values()
            ]
            outcomes = [future.result() for future in futures]

    failed = [(record, tries) for records, tries in outcomes for record in records]
    if failed and delay is not None:
        # the whole rest of a group comes back together: SQS holds the group while any of it is in flight
        retries: list[tuple[str, int]] = []
        for records, tries in outcomes:
            if records:
                seconds = retry_delay(tries)
                retries.extend((r["receiptHandle"], seconds) for r in records)
        try:
            delay(retries)
        except Exception:  # they come back after the visibility timeout instead
            logger.warning("could not shorten the failed records' visibility", exc_info=True)
    return {"batchItemFailures": [{"itemIdentifier": record["messageId"]} for record, _ in failed]}
