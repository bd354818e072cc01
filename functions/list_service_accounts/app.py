from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.api import create_app, principal, responses
from parley.api_params import AccountCursor, PageSize
from parley.log import logger
from parley.logic import accounts

app = create_app()


@app.get(
    "/api/service_accounts",
    summary="List service accounts (admin)",
    tags=["service accounts"],
    operation_id="list_service_accounts",
    responses=responses(
        200,
        "A page of accounts, by id.",
        "ServiceAccountPage",
        {
            "results": [
                {
                    "id": 1,
                    "name": "admin",
                    "is_admin": True,
                    "is_active": True,
                    "data_set_ids": [],
                    "created_at": "2026-11-27T15:04:05Z",
                }
            ],
            "next_cursor": None,
        },
        (400, 403),
    ),
)
def list_service_accounts(limit: PageSize = 50, cursor: AccountCursor = None):
    return accounts.list_page(principal(app), limit, cursor)


@tracing.handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
