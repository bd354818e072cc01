from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.api import create_app, principal, responses
from parley.api_params import ConversationId
from parley.log import logger
from parley.logic import conversations

app = create_app()


@app.delete(
    "/api/conversations/<conversation_id>",
    summary="Delete a conversation",
    description="Its messages and tasks go with it; only the account that started it may delete it.",
    tags=["conversations"],
    operation_id="delete_conversation",
    responses=responses(204, "Deleted, with its messages and tasks: they answer 404 from now on.", errors=(404, 503)),
)
def delete_conversation(conversation_id: ConversationId):
    conversations.delete(principal(app), conversation_id)
    return Response(status_code=204)


@tracing.handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
