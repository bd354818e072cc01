"""WebSocket $connect (after the authorizer allowed it): remember the connection and its account."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.auth import Principal
from parley.log import logger
from parley.logic import streaming


@tracing.handler
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = event["requestContext"]
    caller = Principal.from_context(request.get("authorizer"))
    if caller is None:  # only reachable if the route were deployed without its authorizer
        return {"statusCode": 401}
    streaming.connect(request["connectionId"], caller)
    # the stage has no access log (docs/deploy.md): each connection is logged here, never its token
    logger.info("connected", extra={"connection_id": request["connectionId"], "account_id": caller.account_id})
    return {"statusCode": 200}
