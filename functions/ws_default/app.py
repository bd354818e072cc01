"""WebSocket $default: a client's subscribe/unsubscribe message; the reply event goes back as the route
response (`subscribed`, `unsubscribed`, or `error` naming the problem)."""

import json

from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.log import logger
from parley.logic import streaming


@tracing.handler
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    reply = streaming.handle_message(event["requestContext"]["connectionId"], event.get("body"))
    logger.info("message", extra={"connection_id": event["requestContext"]["connectionId"], "reply": reply.get("type")})
    return {"statusCode": 200, "body": json.dumps(reply)}
