"""The body of a documents load."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictStr, field_validator, model_validator

from parley.models.base import Body, not_blank

MAX_DOCUMENT_KEY_BYTES = 1_000


class Document(Body):
    title: Annotated[StrictStr, Field(min_length=1, max_length=500)]
    content: Annotated[StrictStr, Field(min_length=1, max_length=90_000)]
    url: Annotated[StrictStr, Field(min_length=1, max_length=2_000)] | None = None

    _check_blank = field_validator("title", "content")(not_blank)

    @property
    def key(self) -> str:
        return self.url or self.title

    @model_validator(mode="after")
    def _key_fits_a_sort_key(self) -> Document:
        # The key is part of the document's DynamoDB sort key, which may take at most 1,024 bytes.
        if len(self.key.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_KEY_BYTES:
            raise ValueError(
                f"the url (or, without one, the title) names the document and may take at most "
                f"{MAX_DOCUMENT_KEY_BYTES} bytes in UTF-8"
            )
        return self


class DocumentsRequest(Body):
    documents: Annotated[list[Document], Field(min_length=1, max_length=1_000, fail_fast=True)]
