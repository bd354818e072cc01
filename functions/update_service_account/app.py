from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.api import BODY_ERRORS, create_app, principal, responses
from parley.api_params import AccountId
from parley.log import logger
from parley.logic import accounts
from parley.models.accounts import UpdateServiceAccountRequest

app = create_app()


@app.patch(
    "/api/service_accounts/<account_id>",
    summary="Update a service account (admin)",
    description="Only the fields sent change; `is_active: false` disables the account's token.",
    tags=["service accounts"],
    operation_id="update_service_account",
    responses=responses(
        200,
        "The updated account.",
        "ServiceAccount",
        {
            "id": 3,
            "name": "robot",
            "is_admin": False,
            "is_active": True,
            "data_set_ids": [1],
            "created_at": "2026-11-27T15:04:05Z",
        },
        (403, 404, *BODY_ERRORS),
    ),
)
def update_service_account(account_id: AccountId, request: UpdateServiceAccountRequest):
    changes = request.model_dump(exclude_none=True)
    return accounts.update(principal(app), account_id, changes)


@tracing.handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
