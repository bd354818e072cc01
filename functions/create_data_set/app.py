from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.api import create_app, principal
from parley.log import logger
from parley.logic import data_sets
from parley.models import CreateDataSetRequest

app = create_app()


@app.post("/api/data_sets")
def create_data_set(request: CreateDataSetRequest):
    return data_sets.create(principal(app), request.name), 201


@tracing.handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
