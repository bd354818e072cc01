from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.api import create_app, principal
from parley.log import logger
from parley.logic import data_sets

app = create_app()


@app.get("/api/data_sets")
def list_data_sets():
    return data_sets.list_visible(principal(app))


@tracing.handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
