from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.api import BODY_ERRORS, create_app, idempotency_key, principal, responses
from parley.api_params import IdempotencyKeyHeader
from parley.log import logger
from parley.logic import conversations
from parley.models.conversations import CreateConversationRequest

app = create_app()


@app.post(
    "/api/conversations",
    summary="Start a conversation on a data set",
    description="The conversation belongs to the calling account, which must have access to the data set.",
    tags=["conversations"],
    operation_id="create_conversation",
    responses=responses(
        201,
        "The new conversation.",
        "ConversationCreated",
        {"id": 7, "started_at": "2026-11-27T15:04:05Z", "data_set_id": 1},
        (403, 404, 503, *BODY_ERRORS),
    ),
)
def create_conversation(request: CreateConversationRequest, idempotency: IdempotencyKeyHeader = None):
    return conversations.create(principal(app), request.data_set_id, idempotency_key(app, idempotency)), 201


@tracing.handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
