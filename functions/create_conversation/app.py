from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley.api import create_app, idempotency_key, principal
from parley.log import logger
from parley.logic import conversations
from parley.models import CreateConversationRequest

app = create_app()


@app.post("/api/conversations")
def create_conversation(request: CreateConversationRequest):
    return conversations.create(principal(app), request.data_set_id, idempotency_key(app)), 201


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
