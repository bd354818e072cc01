"""parley's Python client and `parley` CLI: the HTTP API only, no server code (installed apart from the layers)."""

from parley_client.client import (
    ApiUnreachable,
    BadRequest,
    Forbidden,
    NotFound,
    ParleyClient,
    ParleyError,
    ServiceUnavailable,
    TaskFailed,
    TaskTimeout,
    Unauthorized,
)

__all__ = [
    "ApiUnreachable",
    "BadRequest",
    "Forbidden",
    "NotFound",
    "ParleyClient",
    "ParleyError",
    "ServiceUnavailable",
    "TaskFailed",
    "TaskTimeout",
    "Unauthorized",
]
