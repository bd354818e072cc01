from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.api import create_app, principal, query_int
from parley.ids import MAX_SAFE_INTEGER
from parley.log import logger
from parley.logic import conversations

app = create_app()


@app.get("/api/conversations")
def list_conversations():
    limit = query_int(app, "limit", 20, 1, 100)
    data_set_id = query_int(app, "data_set_id", None, 1, MAX_SAFE_INTEGER)
    cursor = app.current_event.get_query_string_value("cursor") or None
    return conversations.list_own(principal(app), limit, cursor, data_set_id)


@tracing.handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
