from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.api import create_app, principal, responses
from parley.api_params import DataSetFilter, PageCursor, PageSize
from parley.log import logger
from parley.logic import conversations

app = create_app()


@app.get(
    "/api/conversations",
    summary="List your conversations, newest first",
    tags=["conversations"],
    operation_id="list_conversations",
    responses=responses(
        200,
        "A page of your conversations.",
        "ConversationPage",
        {
            "results": [
                {
                    "id": 7,
                    "started_at": "2026-11-27T15:04:05Z",
                    "data_set_id": 1,
                    "summary": "Does the business plan include an SLA?",
                }
            ],
            "next_cursor": None,
        },
        (400,),
    ),
)
def list_conversations(limit: PageSize = 20, cursor: PageCursor = None, data_set_id: DataSetFilter = None):
    return conversations.list_own(principal(app), limit, cursor or None, data_set_id)


@tracing.handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
