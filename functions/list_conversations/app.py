from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley.api import create_app, principal, responses
from parley.api_params import query_int, query_text
from parley.ids import MAX_SAFE_INTEGER
from parley.log import logger
from parley.logic import conversations

app = create_app()


@app.get(
    "/api/conversations",
    summary="List your conversations, newest first",
    tags=["conversations"],
    operation_id="list_conversations",
    responses=responses(200, "A page of your conversations.", "ConversationPage",
                        {"results": [{"id": 7, "started_at": "2026-11-27T15:04:05Z", "data_set_id": 1,
                                      "summary": "Does the business plan include an SLA?"}],
                         "next_cursor": None},
                        (400,)),
)
def list_conversations(
    limit: query_int("Page size.", 1, 100) = 20,
    cursor: query_text("`next_cursor` of the previous page.") = None,
    data_set_id: query_int("Only conversations on this data set.", 1, MAX_SAFE_INTEGER) = None,
):
    return conversations.list_own(principal(app), limit, cursor or None, data_set_id)

@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
