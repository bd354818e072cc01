from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley.api import create_app, idempotency_key, path_id, principal
from parley.log import logger
from parley.logic import conversations
from parley.models import SendMessageRequest

app = create_app()


@app.post("/api/conversations/<conversation_id>")
def send_message(conversation_id: str, request: SendMessageRequest):
    conversation = path_id(conversation_id, "conversation")
    return conversations.send(principal(app), conversation, request.question_message, request.data_set_id,
                              idempotency_key(app)), 202


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
