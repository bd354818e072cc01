from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.api import DATA_SET_EXAMPLE, create_app, principal, responses
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
        DATA_SET_EXAMPLE,
        (403, 404),
    ),
)
def get_data_set(data_set_id: DataSetId):
    return data_sets.get_visible(principal(app), data_set_id)


@tracing.handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
