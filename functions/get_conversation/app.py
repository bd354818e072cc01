from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley.api import create_app, path_id, principal
from parley.log import logger
from parley.logic import conversations

app = create_app()


@app.get("/api/conversations/<conversation_id>")
def get_conversation(conversation_id: str):
    cursor = app.current_event.get_query_string_value("cursor") or None
    return conversations.read(principal(app), path_id(conversation_id, "conversation"), cursor)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
