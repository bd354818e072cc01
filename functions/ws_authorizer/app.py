"""WebSocket API Lambda REQUEST authorizer for $connect: the same token check as the HTTP API's authorizer.

A WebSocket authorizer answers with an IAM policy; a Deny refuses the connection (the handshake gets 403).
The token comes from the `token` query parameter or the `Authorization: Token ...` header.
"""

from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.log import logger
from parley.logic.streaming import authenticate_connection


def _policy(principal_id: str, effect: str, method_arn: str) -> dict:
    return {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn}],
        },
    }


@tracing.handler
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    caller = authenticate_connection(event.get("headers"), event.get("queryStringParameters"))
    if caller is None:
        logger.info("connection not authenticated")
        return _policy("anonymous", "Deny", event["methodArn"])
    logger.info("connection authenticated", extra={"account_id": caller.account_id})
    return {**_policy(str(caller.account_id), "Allow", event["methodArn"]), "context": caller.to_context()}
