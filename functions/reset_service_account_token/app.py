from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.api import create_app, principal, responses
from parley.api_params import AccountId
from parley.log import logger
from parley.logic import accounts

app = create_app()


@app.post(
    "/api/service_accounts/<account_id>/reset_token",
    summary="Replace a service account's token (admin)",
    tags=["service accounts"],
    operation_id="reset_service_account_token",
    responses=responses(
        200,
        "The account with its new token; the old token stops working.",
        "ServiceAccountWithToken",
        {
            "id": 3,
            "name": "support-bot",
            "is_admin": False,
            "is_active": True,
            "data_set_ids": [1],
            "created_at": "2026-11-27T15:04:05Z",
            "token": "prl_3_" + "y" * 43,
        },
        (403, 404),
    ),
)
def reset_service_account_token(account_id: AccountId):
    return accounts.reset_token(principal(app), account_id)


@tracing.handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
