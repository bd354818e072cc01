from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.api import create_app, path_id, principal
from parley.log import logger
from parley.logic import data_sets

app = create_app()


@app.get("/api/data_sets/<data_set_id>")
def get_data_set(data_set_id: str):
    return data_sets.get_visible(principal(app), path_id(data_set_id, "data set"))


@tracing.handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
