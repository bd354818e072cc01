from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley.api import create_app, path_id, principal
from parley.log import logger
from parley.logic import accounts

app = create_app()


@app.post("/api/service_accounts/<account_id>/reset_token")
def reset_service_account_token(account_id: str):
    return accounts.reset_token(principal(app), path_id(account_id, "service account"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
