from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.api import create_app, principal, responses
from parley.api_params import ConversationId, HistoryCursor
from parley.log import logger
from parley.logic import conversations

app = create_app()


@app.get(
    "/api/conversations/<conversation_id>",
    summary="Read a conversation with its history",
    description="Only the account that started the conversation may read it; to others it does not exist.",
    tags=["conversations"],
    operation_id="get_conversation",
    responses=responses(
        200,
        "The conversation and its messages, oldest first: all of them, or a page of about 1 MB "
        "when the history is longer (then `history_next_cursor` is set).",
        "Conversation",
        {
            "id": 7,
            "started_at": "2026-11-27T15:04:05Z",
            "data_set_id": 1,
            "summary": "Does the business plan include an SLA?",
            "history": [
                {
                    "id": 1,
                    "text": "Does the business plan include an SLA?",
                    "role": "user",
                    "created_at": "2026-11-27T15:04:06Z",
                }
            ],
        },
        (400, 404),
    ),
)
def get_conversation(conversation_id: ConversationId, cursor: HistoryCursor = None):
    return conversations.read(principal(app), conversation_id, cursor or None)


@tracing.handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
