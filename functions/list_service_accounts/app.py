from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley.api import create_app, principal, query_int
from parley.ids import MAX_SAFE_INTEGER
from parley.log import logger
from parley.logic import accounts

app = create_app()


@app.get("/api/service_accounts")
def list_service_accounts():
    limit = query_int(app, "limit", 50, 1, 100)
    cursor = query_int(app, "cursor", None, 1, MAX_SAFE_INTEGER)
    return accounts.list_page(principal(app), limit, cursor)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
