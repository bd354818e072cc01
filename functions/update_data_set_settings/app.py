from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.api import BODY_ERRORS, DATA_SET_EXAMPLE, create_app, principal, responses
from parley.api_params import DataSetId
from parley.log import logger
from parley.logic import data_sets
from parley.models.settings import AnswerSettings

app = create_app()


@app.patch(
    "/api/data_sets/<data_set_id>/settings",
    summary="Replace a data set's answer settings (admin)",
    tags=["data sets"],
    operation_id="update_data_set_settings",
    responses=responses(
        200,
        "The data set with its new settings.",
        "DataSet",
        DATA_SET_EXAMPLE,
        (403, 404, *BODY_ERRORS),
    ),
)
def update_data_set_settings(data_set_id: DataSetId, request: AnswerSettings):
    return data_sets.update_settings(principal(app), data_set_id, request.model_dump(exclude_none=True))


@tracing.handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
