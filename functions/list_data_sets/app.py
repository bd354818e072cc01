from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.api import DATA_SET_EXAMPLE, create_app, principal, responses
from parley.log import logger
from parley.logic import data_sets

app = create_app()


@app.get(
    "/api/data_sets",
    summary="List the data sets you can use",
    tags=["data sets"],
    operation_id="list_data_sets",
    responses=responses(
        200,
        "Every data set this account may use.",
        "DataSetList",
        {"results": [DATA_SET_EXAMPLE]},
    ),
)
def list_data_sets():
    return data_sets.list_visible(principal(app))


@tracing.handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
