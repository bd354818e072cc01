"""WebSocket $disconnect: forget the connection and its subscriptions."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.log import logger
from parley.logic import streaming


@tracing.handler
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    streaming.disconnect(event["requestContext"]["connectionId"])
    logger.info("disconnected", extra={"connection_id": event["requestContext"]["connectionId"]})
    return {"statusCode": 200}
