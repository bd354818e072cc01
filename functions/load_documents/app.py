from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley.api import create_app, idempotency_key, path_id, principal
from parley.log import logger
from parley.logic import data_sets
from parley.models import DocumentsRequest

app = create_app()


@app.post("/api/data_sets/<data_set_id>/documents")
def load_documents(data_set_id: str, request: DocumentsRequest):
    items = [d.model_dump() for d in request.documents]
    return data_sets.request_load(principal(app), path_id(data_set_id, "data set"), data_sets.DOCUMENTS, items,
                                  idempotency_key(app)), 202


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
