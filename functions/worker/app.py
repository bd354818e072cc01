"""Consumes answer and load jobs from the FIFO queue in batches, reporting only the records that failed.

Message groups (conversations, data sets) are worked on side by side; within a group records run in order,
and a failed record fails the rest of its group in the batch so that order is kept.
"""

import json
import time

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.batch import process_fifo_batch
from parley.config import settings
from parley.dal import jobs
from parley.log import logger
from parley.logic import worker


def record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None) -> None:
    try:
        job = json.loads(record.body)
    except ValueError:
        logger.error("dropping a job that is not JSON", extra={"message_id": record.message_id})
        return
    # the invocation's end, so a model answer (which may take many model calls) stops in time
    not_after = None
    if lambda_context is not None:
        not_after = time.monotonic() + lambda_context.get_remaining_time_in_millis() / 1000
    worker.handle(job if isinstance(job, dict) else {}, settings().max_tries, not_after)


@tracing.handler
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_fifo_batch(event, record_handler, context, delay=jobs.retry_after)
