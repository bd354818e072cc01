from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from parley import tracing
from parley.api import create_app, principal, responses
from parley.api_params import TaskId
from parley.log import logger
from parley.logic import tasks

app = create_app()


@app.get(
    "/api/task_status/<task_id>",
    summary="Poll a task",
    tags=["tasks"],
    operation_id="task_status",
    responses=responses(
        200,
        "The task's state (PENDING until it has finished).",
        "TaskStatus",
        {"state": "SUCCESS", "kind": "answer", "conversation_id": 7},
        (404,),
    ),
)
def task_status(task_id: TaskId):
    return tasks.status(principal(app), task_id)


@tracing.handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
