"""The JSON the API returns, as pydantic models: the OpenAPI document's response schemas.

Handlers build plain dicts and never import this module, so describing a response costs an API function
nothing at cold start (a pydantic class costs about a millisecond to create): a route names its model by name in
`responses=parley.api.responses(...)`, and the OpenAPI merge (local/parley_local/openapi.py) adds the models the
operations name to the document's components. tests/unit/test_openapi.py checks
real responses against the generated document, so a handler that returns something else fails a test.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from parley.models.settings import AnswerSettings


class FieldError(BaseModel):
    loc: list[str | int] = Field(description='Where the problem is, e.g. ["body", "data_set_id"].')
    msg: str
    type: str


class ErrorResponse(BaseModel):
    detail: str | list[FieldError] = Field(
        description="What went wrong: a sentence, or one entry per invalid field (422 and query errors)."
    )


class GatewayError(BaseModel):
    message: str = Field(description="API Gateway's own answer, e.g. to a request without an Authorization header.")


class ConversationCreated(BaseModel):
    id: int
    started_at: str = Field(description="ISO 8601 UTC time.")
    data_set_id: int


class ConversationSummary(ConversationCreated):
    summary: str | None = Field(description="The first question, cut to 200 characters; null before any message.")


class AnswerSource(BaseModel):
    type: Literal["product", "document"]
    id: str = Field(description="The product's SKU or the document's key (its URL, else its title).")
    title: str
    url: str | None


class AnswerStep(BaseModel):
    tool: str = Field(description="The tool the model called, e.g. search_products.")
    arguments: dict[str, Any] = Field(description="The arguments it called the tool with.")
    result_count: int = Field(description="How many products or passages the result held.")
    duration_ms: float
    error: str | None = Field(
        default=None,
        description="Present when the arguments were bad or the tool failed; the model was told and carried on.",
    )


class Message(BaseModel):
    id: int
    text: str
    role: Literal["user", "agent"]
    created_at: str
    sources: list[AnswerSource] = Field(default=[], description="Only on agent messages: what the answer used.")
    steps: list[AnswerStep] = Field(
        default=[], description="Only on agent messages: the tool calls made while answering, in order."
    )


class Conversation(ConversationSummary):
    history: list[Message] = Field(description="Oldest first: the whole history, or a page of about 1 MB.")
    history_next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page of the history; null when this page ends it."
    )


class ConversationPage(BaseModel):
    results: list[ConversationSummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page.")


class TaskAccepted(BaseModel):
    task_id: str = Field(description="Poll GET /api/task_status/{task_id} until SUCCESS or FAILURE.")


class TaskError(BaseModel):
    code: str
    message: str


class LoadResult(BaseModel):
    upserted: int
    product_count: int
    document_count: int


class TaskStatus(BaseModel):
    state: Literal["PENDING", "SUCCESS", "FAILURE"]
    kind: Literal["answer", "load_products", "load_documents"] | None
    conversation_id: int | None = Field(default=None, description="Present for answer tasks.")
    error: TaskError | None = Field(default=None, description="Present when state is FAILURE.")
    result: LoadResult | None = Field(default=None, description="Present when a load task succeeded.")


class DataSet(BaseModel):
    id: int
    name: str
    product_count: int
    document_count: int
    created_at: str | None
    answer_settings: AnswerSettings = Field(
        description="Admins see every setting; other accounts see only `provider` and `model`."
    )


class DataSetList(BaseModel):
    results: list[DataSet]


class ServiceAccount(BaseModel):
    id: int
    name: str
    is_admin: bool
    is_active: bool
    data_set_ids: list[int]
    created_at: str | None


class ServiceAccountWithToken(ServiceAccount):
    token: str = Field(description="`prl_<id>_<secret>`: shown only here; send it as `Authorization: Token ...`.")


class ServiceAccountPage(BaseModel):
    results: list[ServiceAccount]
    next_cursor: str | None
