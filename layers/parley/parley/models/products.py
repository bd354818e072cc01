"""The body of a products load: products with prices, stock, properties, categories and variants."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SerializerFunctionWrapHandler,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_serializer,
    model_validator,
)

from parley.models.base import Body, not_blank

MAX_PRODUCT_BYTES = 350_000


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


class _Offer(Body):
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

    _check_blank = field_validator("sku")(not_blank)


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
    _check_blank = field_validator("sku", "name")(not_blank)

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


class ProductsRequest(Body):
    # The first invalid item ends validation (its errors are reported): every item's errors of a 1 MB body
    # took seconds to list.
    products: Annotated[list[Product], Field(min_length=1, max_length=5_000, fail_fast=True)]
