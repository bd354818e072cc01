from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley.api import create_app, idempotency_key, path_id, principal
from parley.log import logger
from parley.logic import data_sets
from parley.models import ProductsRequest

app = create_app()


@app.post("/api/data_sets/<data_set_id>/products")
def load_products(data_set_id: str, request: ProductsRequest):
    items = [p.model_dump() for p in request.products]
    return data_sets.request_load(principal(app), path_id(data_set_id, "data set"), data_sets.PRODUCTS, items,
                                  idempotency_key(app)), 202


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
