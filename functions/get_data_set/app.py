from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.api import create_app, principal, responses
from parley.api_params import DataSetId
from parley.log import logger
from parley.logic import data_sets

app = create_app()


@app.get(
    "/api/data_sets/<data_set_id>",
    summary="Read a data set",
    tags=["data sets"],
    operation_id="get_data_set",
    responses=responses(
        200,
        "The data set.",
        "DataSet",
        {
            "id": 1,
            "name": "Sample shop",
            "product_count": 120,
            "document_count": 14,
            "created_at": "2026-11-27T15:04:05Z",
            "answer_settings": {"provider": "extractive"},
        },
        (403, 404),
    ),
)
def get_data_set(data_set_id: DataSetId):
    return data_sets.get_visible(principal(app), data_set_id)


@tracing.handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
