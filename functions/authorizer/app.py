"""HTTP API Lambda REQUEST authorizer: resolves `Authorization: Token <token>` to an account.

API Gateway answers an authorizer's deny with a bare 403, but the contract promises 401 with a JSON
`detail`. So an unknown, malformed or disabled token is passed on marked unauthenticated, and the shared
API layer (parley.api) answers 401 before any route code runs. Results are cached per header value.
"""

from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.log import logger
from parley.logic.accounts import authenticate

UNAUTHENTICATED = {"isAuthorized": True, "context": {"authenticated": "false"}}


@tracing.handler
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    caller = authenticate((event.get("headers") or {}).get("authorization"))
    if caller is None:
        logger.info("request not authenticated")
        return UNAUTHENTICATED
    logger.info("request authenticated", extra={"account_id": caller.account_id})
    return {"isAuthorized": True, "context": caller.to_context()}
