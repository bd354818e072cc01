from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley.api import create_app, principal
from parley.log import logger
from parley.logic import accounts
from parley.models import CreateServiceAccountRequest

app = create_app()


@app.post("/api/service_accounts")
def create_service_account(request: CreateServiceAccountRequest):
    return accounts.create(principal(app), request.name.strip(), request.data_set_ids, request.is_admin), 201


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
