from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.api import BODY_ERRORS, create_app, idempotency_key, principal, responses
from parley.api_params import DataSetId, IdempotencyKeyHeader
from parley.log import logger
from parley.logic import data_sets
from parley.models.products import ProductsRequest

app = create_app()


@app.post(
    "/api/data_sets/<data_set_id>/products",
    summary="Load products into a data set (admin)",
    description="A product with the sku of one already loaded replaces it.",
    tags=["data sets"],
    operation_id="load_products",
    responses=responses(
        202,
        "The products are indexed asynchronously: poll the task.",
        "TaskAccepted",
        {"task_id": "3f0c2a9e-6a51-4c55-9d87-0f5b1f0e2b7a"},
        (403, 404, 503, *BODY_ERRORS),
    ),
)
def load_products(data_set_id: DataSetId, request: ProductsRequest, idempotency: IdempotencyKeyHeader = None):
    items = [p.model_dump() for p in request.products]
    return data_sets.request_load(
        principal(app), data_set_id, data_sets.PRODUCTS, items, idempotency_key(app, idempotency)
    ), 202


@tracing.handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
