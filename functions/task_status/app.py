from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.api import create_app, path_uuid, principal
from parley.log import logger
from parley.logic import tasks

app = create_app()


@app.get("/api/task_status/<task_id>")
def task_status(task_id: str):
    return tasks.status(principal(app), path_uuid(task_id, "task"))


@tracing.handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
