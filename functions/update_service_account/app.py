from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley.api import create_app, path_id, principal
from parley.log import logger
from parley.logic import accounts
from parley.models import UpdateServiceAccountRequest

app = create_app()


@app.patch("/api/service_accounts/<account_id>")
def update_service_account(account_id: str, request: UpdateServiceAccountRequest):
    changes = request.model_dump(exclude_none=True)
    return accounts.update(principal(app), path_id(account_id, "service account"), changes)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
