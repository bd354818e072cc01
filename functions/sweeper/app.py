"""Runs on a schedule: re-enqueues tasks whose job may have been lost, then times out the ones still stuck."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.log import logger
from parley.logic import sweeper


@tracing.handler
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return sweeper.sweep()
