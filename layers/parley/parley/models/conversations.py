"""Bodies of the conversation routes: create a conversation, send a question."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictStr, field_validator

from parley.models.base import Body, Id, not_blank

MAX_QUESTION_CHARS = 16_000


class CreateConversationRequest(Body):
    data_set_id: Id


class SendMessageRequest(Body):
    question_message: Annotated[StrictStr, Field(min_length=1, max_length=MAX_QUESTION_CHARS)]
    data_set_id: Id | None = None

    _check_blank = field_validator("question_message")(not_blank)
