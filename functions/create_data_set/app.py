from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.api import BODY_ERRORS, create_app, principal, responses
from parley.log import logger
from parley.logic import data_sets
from parley.models.data_sets import CreateDataSetRequest

app = create_app()


@app.post(
    "/api/data_sets",
    summary="Create a data set (admin)",
    description="An empty data set with default answer settings; load products and documents into it next.",
    tags=["data sets"],
    operation_id="create_data_set",
    responses=responses(
        201,
        "The new, empty data set.",
        "DataSet",
        {
            "id": 2,
            "name": "Catalogue",
            "product_count": 0,
            "document_count": 0,
            "created_at": "2026-11-27T15:04:05Z",
            "answer_settings": {"provider": "extractive"},
        },
        (403, *BODY_ERRORS),
    ),
)
def create_data_set(request: CreateDataSetRequest):
    return data_sets.create(principal(app), request.name), 201


@tracing.handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
