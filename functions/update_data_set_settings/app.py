from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley.api import create_app, path_id, principal
from parley.log import logger
from parley.logic import data_sets
from parley.models import AnswerSettings

app = create_app()


@app.patch("/api/data_sets/<data_set_id>/settings")
def update_data_set_settings(data_set_id: str, request: AnswerSettings):
    return data_sets.update_settings(principal(app), path_id(data_set_id, "data set"),
                                     request.model_dump(exclude_none=True))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
