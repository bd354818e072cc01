from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.api import BODY_ERRORS, create_app, idempotency_key, principal, responses
from parley.api_params import ConversationId, IdempotencyKeyHeader
from parley.log import logger
from parley.logic import conversations
from parley.models.conversations import SendMessageRequest

app = create_app()


@app.post(
    "/api/conversations/<conversation_id>",
    summary="Ask a question in a conversation",
    description="The question is stored at once; the worker answers it from the conversation's data set.",
    tags=["conversations"],
    operation_id="send_message",
    responses=responses(
        202,
        "The question is stored; the answer is produced asynchronously: poll the task.",
        "TaskAccepted",
        {"task_id": "3f0c2a9e-6a51-4c55-9d87-0f5b1f0e2b7a"},
        (403, 404, 503, *BODY_ERRORS),
    ),
)
def send_message(
    conversation_id: ConversationId, request: SendMessageRequest, idempotency: IdempotencyKeyHeader = None
):
    return conversations.send(
        principal(app),
        conversation_id,
        request.question_message,
        request.data_set_id,
        idempotency_key(app, idempotency),
    ), 202


@tracing.handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
