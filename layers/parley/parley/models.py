"""Request bodies, validated by pydantic through the Powertools event handler.

Types are strict (a JSON string is not an id, a number is not a question) and unknown fields are ignored,
as most JSON APIs do, so clients may send extra keys.
"""

from __future__ import annotations

import json
import math
from itertools import islice
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from parley import egress
from parley.ids import MAX_SAFE_INTEGER

MAX_QUESTION_CHARS = 16_000
MAX_PRODUCT_BYTES = 350_000
MAX_DOCUMENT_KEY_BYTES = 1_000

Id = Annotated[StrictInt, Field(ge=1, le=MAX_SAFE_INTEGER)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=200)]


def _storable_float(value: float) -> float:
    # DynamoDB numbers are 0 or of magnitude 1e-130 to 1e126; anything else would fail in the worker's write.
    if not math.isfinite(value) or (value != 0 and not 1e-130 <= abs(value) < 1e126):
        raise ValueError("must be 0 or a finite number whose magnitude is from 1e-130 up to 1e126")
    return value


def _storable_int(value: int) -> int:
    if abs(value) >= 10**38:  # DynamoDB keeps at most 38 significant digits
        raise ValueError("must have at most 38 digits")
    return value


# Numbers as DynamoDB stores them (a longer integer is taken as a float, as JSON numbers may be).
StorableInt = Annotated[StrictInt, AfterValidator(_storable_int)]
StorableFloat = Annotated[StrictFloat, AfterValidator(_storable_float)]
PropertyValue = StrictBool | StorableInt | StorableFloat | Annotated[StrictStr, Field(max_length=2_000)] | None


MAX_ERRORS_SHOWN = 50


def _error_detail(error: ErrorDetails) -> InitErrorDetails:
    detail = InitErrorDetails(type=error["type"], loc=error["loc"], input=error.get("input"))
    if "ctx" in error:
        detail["ctx"] = error["ctx"]
    return detail


class _Body(BaseModel):
    # defer_build: a handler builds the validators of the models it uses, on first use, not all of them at import
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False, defer_build=True)

    @model_validator(mode="wrap")
    @classmethod
    def _at_most_50_errors(cls, data: Any, handler: Any) -> Any:
        """A 1 MB body can hold 400,000 invalid values, each a field error: listing them took the API seconds
        per thousand (past Lambda's timeout) and made a 50 MB response. Keep the first 50 and a count."""
        try:
            return handler(data)
        except ValidationError as exc:
            if exc.error_count() <= MAX_ERRORS_SHOWN:
                raise
            errors = exc.errors(include_url=False)
            # a nested model may have cut its own list already: its last entry counts what it left out
            count = sum(e["ctx"]["count"] if e["type"] == "too_many_errors" else 1 for e in errors)
            shown = [
                _error_detail(e)
                for e in islice((e for e in errors if e["type"] != "too_many_errors"), MAX_ERRORS_SHOWN)
            ]
            more = PydanticCustomError(
                "too_many_errors", "{count} more errors not shown", {"count": count - len(shown)}
            )
            raise ValidationError.from_exception_data(
                exc.title, [*shown, InitErrorDetails(type=more, loc=(), input=None)]
            ) from None


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


class CreateConversationRequest(_Body):
    data_set_id: Id


class SendMessageRequest(_Body):
    question_message: Annotated[StrictStr, Field(min_length=1, max_length=MAX_QUESTION_CHARS)]
    data_set_id: Id | None = None

    _check_blank = field_validator("question_message")(_not_blank)


class CreateDataSetRequest(_Body):
    name: Name

    _check_blank = field_validator("name")(_not_blank)


MAX_VARIANTS = 250
MAX_OPTIONS = 20
MAX_OPTION_VALUES = 250

Sku = Annotated[StrictStr, Field(min_length=1, max_length=200)]
# property names become DynamoDB map keys, which may not be empty
PropertyName = Annotated[str, Field(min_length=1, max_length=200)]
Money = Annotated[StrictInt | StorableFloat, Field(ge=0, le=1e12)]
OptionValue = Annotated[StrictStr, Field(min_length=1, max_length=200)]


def _currency(value: str) -> str:
    if len(value) != 3 or not value.isascii() or not value.isalpha():
        raise ValueError("must be an ISO 4217 code of three letters, such as EUR or USD")
    return value.upper()


class _Offer(_Body):
    """Price and availability, shared by products and their variants. Fields left out stay out of the dump,
    so products without them are stored as before."""

    price: Money | None = Field(
        None,
        description="The price to pay. When absent it is the sale price if the "
        "item is on sale, else the regular price.",
    )
    regular_price: Money | None = Field(None, description="The price before any sale.")
    sale_price: Money | None = Field(
        None, description="The sale price; the item is on sale when it is below regular_price."
    )
    in_stock: StrictBool | None = Field(
        None, description="Whether it can be bought now; defaults to stock_quantity > 0 when only that is given."
    )
    stock_quantity: Annotated[StrictInt, Field(ge=0, le=10**12)] | None = Field(None, description="Units in stock.")

    _KEPT_WHEN_NONE: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _derive_price_and_stock(self) -> _Offer:
        if self.price is None and (self.regular_price is not None or self.sale_price is not None):
            on_sale = self.sale_price is not None and (
                self.regular_price is None or self.sale_price < self.regular_price
            )
            self.price = self.sale_price if on_sale else self.regular_price
        if self.in_stock is None and self.stock_quantity is not None:
            self.in_stock = self.stock_quantity > 0
        return self

    @model_serializer(mode="wrap")
    def _leave_out_absent(self, dump: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {key: value for key, value in dump(self).items() if value is not None or key in self._KEPT_WHEN_NONE}


def _at_most(entries: int) -> BeforeValidator:
    """A map's size, checked before its values: pydantic checks max_length only after validating every value, so
    100,000 wrong values made 400,000 errors (seconds of work) where one error says it all."""

    def check(value: Any) -> Any:
        if isinstance(value, dict) and len(value) > entries:
            raise ValueError(f"must have at most {entries} entries, not {len(value)}")
        return value

    return BeforeValidator(check)


Properties = Annotated[dict[PropertyName, PropertyValue], Field(max_length=200), _at_most(200)]


class Variant(_Offer):
    """One purchasable variant of a product (a Shopify variant, an entry of a JSON feed's variants list)."""

    sku: Sku
    name: Annotated[StrictStr, Field(min_length=1, max_length=500)] | None = None
    options: Annotated[dict[PropertyName, OptionValue], Field(max_length=MAX_OPTIONS), _at_most(MAX_OPTIONS)] = Field(
        {}, description='The values that define this variant, e.g. {"Color": "Blue", "Size": "M"}.'
    )
    properties: Properties = {}

    _check_blank = field_validator("sku")(_not_blank)


class Product(_Offer):
    sku: Sku
    name: Annotated[StrictStr, Field(min_length=1, max_length=500)]
    description: Annotated[StrictStr, Field(max_length=20_000)] = ""
    properties: Properties = {}
    categories: Annotated[list[Annotated[StrictStr, Field(max_length=200)]], Field(max_length=50)] = Field(
        [], description='Category names or paths: "Clothing > Hoodies" puts the product in Hoodies and in Clothing.'
    )
    currency: Annotated[StrictStr, AfterValidator(_currency)] | None = Field(
        None, description="ISO 4217 code of the prices, e.g. EUR or USD."
    )
    url: Annotated[StrictStr, Field(min_length=1, max_length=2_000)] | None = Field(
        None, description="The product page."
    )
    parent_sku: Sku | None = Field(None, description="This item is a variant of the product with that sku.")
    options: (
        Annotated[
            dict[PropertyName, OptionValue | Annotated[list[OptionValue], Field(max_length=MAX_OPTION_VALUES)]],
            Field(max_length=MAX_OPTIONS),
            _at_most(MAX_OPTIONS),
        ]
        | None
    ) = Field(
        None,
        description='On a variant, the values that define it ({"Color": "Blue"}); on a parent, optionally '
        'the declared values ({"Color": ["Blue", "Red"]}).',
    )
    variants: Annotated[list[Variant], Field(max_length=MAX_VARIANTS, fail_fast=True)] | None = Field(
        None, description=f"The product's variants (at most {MAX_VARIANTS}), each with its own sku."
    )

    _KEPT_WHEN_NONE: ClassVar[frozenset[str]] = frozenset({"price"})  # stored as before issue 11
    _check_blank = field_validator("sku", "name")(_not_blank)

    @model_validator(mode="after")
    def _consistent_family(self) -> Product:
        if self.parent_sku is not None and self.parent_sku == self.sku:
            raise ValueError("parent_sku must not be the product's own sku")
        if self.parent_sku is not None and self.variants:
            raise ValueError("a variant (an item with a parent_sku) cannot have variants of its own")
        skus = [self.sku] + [v.sku for v in self.variants or ()]
        repeated = sorted({sku for sku in skus if skus.count(sku) > 1})
        if repeated:
            raise ValueError(
                f"every variant needs its own sku, distinct from the product's; repeated: {', '.join(repeated[:5])}"
            )
        return self

    @model_validator(mode="after")
    def _fits_one_item(self) -> Product:
        # A product is stored as one DynamoDB item (400 KB at most, keys included); the field limits alone
        # allow far more (200 properties of 2,000 characters, 250 variants), which would only fail later in
        # the worker.
        size = len(json.dumps(self.model_dump(), ensure_ascii=False).encode("utf-8", "surrogatepass"))
        if size > MAX_PRODUCT_BYTES:
            raise ValueError(f"a product may take at most {MAX_PRODUCT_BYTES} bytes as JSON; this one takes {size}")
        return self


class ProductsRequest(_Body):
    # The first invalid item ends validation (its errors are reported): every item's errors of a 1 MB body
    # took seconds to list.
    products: Annotated[list[Product], Field(min_length=1, max_length=5_000, fail_fast=True)]


class Document(_Body):
    title: Annotated[StrictStr, Field(min_length=1, max_length=500)]
    content: Annotated[StrictStr, Field(min_length=1, max_length=90_000)]
    url: Annotated[StrictStr, Field(min_length=1, max_length=2_000)] | None = None

    _check_blank = field_validator("title", "content")(_not_blank)

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


class DocumentsRequest(_Body):
    documents: Annotated[list[Document], Field(min_length=1, max_length=1_000, fail_fast=True)]


class CreateServiceAccountRequest(_Body):
    name: Name
    data_set_ids: Annotated[list[Id], Field(max_length=100)] = []
    is_admin: StrictBool = False

    _check_blank = field_validator("name")(_not_blank)


class UpdateServiceAccountRequest(_Body):
    name: Name | None = None
    data_set_ids: Annotated[list[Id], Field(max_length=100)] | None = None
    is_active: StrictBool | None = None

    _check_blank = field_validator("name")(lambda v: v if v is None else _not_blank(v))


# ------------------------------------------------------------ answer settings

_MODEL_ID = r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$"
_SECRET_NAME = r"^[A-Za-z0-9/_+=.@-]+$"
_NEEDS = {"model": ("bedrock", "openai"), "base_url": ("openai",), "api_key_secret": ("openai",)}


class AnswerSettings(_Body):
    """How a data set's questions are answered. The whole object is replaced on each update.

    `provider` comes first so that the checks of the later fields can see it: a setting the provider
    needs is a 422 naming that field now, rather than a failed answer later.
    """

    provider: Literal["extractive", "bedrock", "openai"] = "extractive"
    model: Annotated[
        Annotated[StrictStr, Field(min_length=1, max_length=200, pattern=_MODEL_ID)] | None,
        Field(validate_default=True),
    ] = None
    system_prompt: Annotated[StrictStr, Field(max_length=8_000)] | None = None
    temperature: Annotated[StrictFloat, Field(ge=0, le=2)] | None = None  # a JSON 1 is accepted as 1.0
    max_tokens: Annotated[StrictInt, Field(ge=1, le=8192)] | None = None
    max_steps: Annotated[StrictInt, Field(ge=1, le=20)] | None = None  # model calls per answer (default 6)
    base_url: Annotated[
        Annotated[StrictStr, Field(min_length=1, max_length=2_000)] | None, Field(validate_default=True)
    ] = None
    api_key_secret: Annotated[
        Annotated[StrictStr, Field(min_length=1, max_length=256, pattern=_SECRET_NAME)] | None,
        Field(validate_default=True),
    ] = None

    @field_validator("model", "base_url", "api_key_secret")
    @classmethod
    def _required_by_provider(cls, value: str | None, info: ValidationInfo) -> str | None:
        provider = info.data.get("provider")  # absent when the provider itself was invalid
        if value is None and provider in _NEEDS.get(info.field_name or "", ()):
            raise ValueError(f"is required when provider is {provider}")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL")
        # credentials or query strings in the URL would be stored and shown; keys belong in the secret
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("must not contain credentials, a query or a fragment")
        egress.check_setting(value.strip())  # https, and no link-local or private address (parley/egress.py)
        return value.strip().rstrip("/")

    @field_validator("api_key_secret")
    @classmethod
    def _secret_in_scope(cls, value: str | None) -> str | None:
        # On AWS the worker may read only this stack's secrets (see template.yaml); locally
        # (PARLEY_SECRETS_BACKEND=env) the name is an environment variable instead.
        from parley.config import settings

        if value is not None and settings().secrets_backend == "aws":
            egress.check_secret_name(value)
        return value
