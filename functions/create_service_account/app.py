from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.api import BODY_ERRORS, create_app, principal, responses
from parley.log import logger
from parley.logic import accounts
from parley.models.accounts import CreateServiceAccountRequest

app = create_app()


@app.post(
    "/api/service_accounts",
    summary="Create a service account (admin)",
    description="The answer carries the account's token, the only time it is shown.",
    tags=["service accounts"],
    operation_id="create_service_account",
    responses=responses(
        201,
        "The new account with its token (shown only now).",
        "ServiceAccountWithToken",
        {
            "id": 3,
            "name": "support-bot",
            "is_admin": False,
            "is_active": True,
            "data_set_ids": [1],
            "created_at": "2026-11-27T15:04:05Z",
            "token": "prl_3_" + "x" * 43,
        },
        (403, *BODY_ERRORS),
    ),
)
def create_service_account(request: CreateServiceAccountRequest):
    return accounts.create(principal(app), request.name.strip(), request.data_set_ids, request.is_admin), 201


@tracing.handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
