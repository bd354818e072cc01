"""The path, query and header parameter types routes share, as Powertools `Path`/`Query` annotations.

A request that fails one is a RequestValidationError, which parley.api answers 404 for a path id (as an unknown
id) and 400 for a query parameter. Only handlers with such parameters import this (and the pydantic modules
it needs), which keeps the others' cold start short.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from pydantic import BeforeValidator
from pydantic_core import PydanticUseDefault

from parley.ids import MAX_SAFE_INTEGER

_ID_TEXT = re.compile(r"[1-9][0-9]{0,15}")
_QUERY_INT_TEXT = re.compile(r"-?[0-9]{1,17}")
_UUID_TEXT = re.compile(r"(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _id_text(value: Any) -> Any:
    """Only the canonical decimal form names a resource (pydantic alone would read " 01", "1.0" or "1_0")."""
    if isinstance(value, str) and not _ID_TEXT.fullmatch(value):
        raise ValueError("not an id")
    return value


def _query_int_text(value: Any) -> Any:
    if value == "":
        raise PydanticUseDefault()  # `?limit=` is the same as no limit
    if isinstance(value, str) and not _QUERY_INT_TEXT.fullmatch(value):
        raise ValueError("must be an integer")
    return value


def _uuid_text(value: Any) -> Any:
    if isinstance(value, str):
        if not _UUID_TEXT.fullmatch(value):
            raise ValueError("not a task id")
        return value.lower()
    return value


# Written out (not built by a function) so that type checkers read them as the types they are.
ConversationId = Annotated[
    int, BeforeValidator(_id_text), Path(ge=1, le=MAX_SAFE_INTEGER, description="The conversation's id.")
]
DataSetId = Annotated[int, BeforeValidator(_id_text), Path(ge=1, le=MAX_SAFE_INTEGER, description="The data set's id.")]
AccountId = Annotated[
    int, BeforeValidator(_id_text), Path(ge=1, le=MAX_SAFE_INTEGER, description="The service account's id.")
]
TaskId = Annotated[str, BeforeValidator(_uuid_text), Path(description="The task's id (a UUID).")]
# Each path parameter's name is in parley.api's PATH_NOUNS, which names it in the 404 a bad value gets.

# Query parameters: optional, their defaults on the handler's arguments (None for "not given", which the
# document then leaves out rather than offer null); `?name=` is the default too.
PageSize = Annotated[int, BeforeValidator(_query_int_text), Query(ge=1, le=100, description="Page size.")]
DataSetFilter = Annotated[
    int,
    BeforeValidator(_query_int_text),
    Query(ge=1, le=MAX_SAFE_INTEGER, description="Only conversations on this data set."),
]
AccountCursor = Annotated[
    int,
    BeforeValidator(_query_int_text),
    Query(ge=1, le=MAX_SAFE_INTEGER, description="`next_cursor` of the previous page."),
]
PageCursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
HistoryCursor = Annotated[str | None, Query(description="`history_next_cursor` of the previous page.")]

# Read as given: parley.api.idempotency_key checks it (a 400 naming the header) and ties it to the request.
IdempotencyKeyHeader = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        description="Any 1 to 255 visible ASCII characters, unique per request, e.g. a UUID. Sent again with the same "
        "request within 24 hours, it gets the first response and nothing is done twice; with another "
        "request (method, path or body), a 422. Keys are per account.",
    ),
]
