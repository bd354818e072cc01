"""Request bodies, validated by pydantic through the Powertools event handler.

Types are strict (a JSON string is not an id, a number is not a question) and unknown fields are ignored,
as most JSON APIs do, so clients may send extra keys.
"""

from __future__ import annotations

from typing import Annotated, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, field_validator

from parley.ids import MAX_SAFE_INTEGER

MAX_QUESTION_CHARS = 16_000

Id = Annotated[StrictInt, Field(ge=1, le=MAX_SAFE_INTEGER)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=200)]
PropertyValue = Union[StrictBool, StrictInt, StrictFloat, Annotated[StrictStr, Field(max_length=2_000)], None]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


class CreateConversationRequest(_Body):
    data_set_id: Id


class SendMessageRequest(_Body):
    question_message: Annotated[StrictStr, Field(min_length=1, max_length=MAX_QUESTION_CHARS)]
    data_set_id: Optional[Id] = None

    _check_blank = field_validator("question_message")(_not_blank)


class CreateDataSetRequest(_Body):
    name: Name

    _check_blank = field_validator("name")(_not_blank)


class Product(_Body):
    sku: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    name: Annotated[StrictStr, Field(min_length=1, max_length=500)]
    description: Annotated[StrictStr, Field(max_length=20_000)] = ""
    properties: Annotated[dict[Annotated[str, Field(max_length=200)], PropertyValue], Field(max_length=200)] = {}
    categories: Annotated[list[Annotated[StrictStr, Field(max_length=200)]], Field(max_length=50)] = []
    price: Optional[Annotated[Union[StrictInt, StrictFloat], Field(ge=0, le=1e12)]] = None

    _check_blank = field_validator("sku", "name")(_not_blank)


class ProductsRequest(_Body):
    products: Annotated[list[Product], Field(min_length=1, max_length=5_000)]


class Document(_Body):
    title: Annotated[StrictStr, Field(min_length=1, max_length=500)]
    content: Annotated[StrictStr, Field(min_length=1, max_length=90_000)]
    url: Optional[Annotated[StrictStr, Field(min_length=1, max_length=2_000)]] = None

    _check_blank = field_validator("title", "content")(_not_blank)

    @property
    def key(self) -> str:
        return self.url or self.title


class DocumentsRequest(_Body):
    documents: Annotated[list[Document], Field(min_length=1, max_length=1_000)]


class CreateServiceAccountRequest(_Body):
    name: Name
    data_set_ids: Annotated[list[Id], Field(max_length=100)] = []
    is_admin: StrictBool = False

    _check_blank = field_validator("name")(_not_blank)


class UpdateServiceAccountRequest(_Body):
    name: Optional[Name] = None
    data_set_ids: Optional[Annotated[list[Id], Field(max_length=100)]] = None
    is_active: Optional[StrictBool] = None

    _check_blank = field_validator("name")(lambda v: v if v is None else _not_blank(v))
