"""The tools: provider-neutral, each a `Tool` with a JSON schema, run against a data set's `Knowledge`.

The offline planner calls them, and issue 12's model loop hands the same list (`TOOLS`, `tool(name)`) to language
models. Arguments are checked against the schema (`validate`, the subset of JSON Schema used here) and a bad one
raises `ToolError` naming the problem. Every result's `sources` are what the answer cites.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypedDict

from parley.agent import search
from parley.agent.catalog import Catalog
from parley.agent.contracts import Knowledge, Tool, ToolError, ToolResult
from parley.engine import Source
from parley.retrieval import tokenize


class Passage(TypedDict):
    """A document passage as `search_documents` shows it."""

    document: str
    url: str | None
    id: str
    text: str
    score: float


MAX_LIMIT = 50

_FILTER = {
    "type": "object",
    "properties": {
        "attribute": {"type": "string", "description": "a property or option name, e.g. Color or download_mbps"},
        "op": {"type": "string", "enum": list(search.OPS)},
        "value": {
            "type": ["string", "number", "boolean", "array"],
            "description": "a number for lt/lte/gt/gte; a list for in",
        },
    },
    "required": ["attribute", "op", "value"],
    "additionalProperties": False,
}

SEARCH_PRODUCTS_SCHEMA = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "description": "words the product text must contain"},
        "category": {"type": "string", "description": "a category at any level of its path"},
        "filters": {"type": "array", "items": _FILTER},
        "min_price": {"type": "number", "minimum": 0},
        "max_price": {"type": "number", "minimum": 0},
        "on_sale": {"type": "boolean"},
        "in_stock": {"type": "boolean"},
        "sort": {"type": "string", "description": "price, relevance, or a numeric attribute"},
        "order": {"type": "string", "enum": ["asc", "desc"]},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    },
    "additionalProperties": False,
}

GET_PRODUCT_SCHEMA = {
    "type": "object",
    "properties": {"sku": {"type": "string", "minLength": 1}, "name": {"type": "string", "minLength": 1}},
    "additionalProperties": False,
}

SEARCH_DOCUMENTS_SCHEMA = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "minLength": 1},
        "limit": {"type": "integer", "minimum": 1, "maximum": 20},
    },
    "required": ["query"],
    "additionalProperties": False,
}

_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "number": (int, float),
    "integer": int,
    "boolean": bool,
    "array": list,
    "object": dict,
}


def _type_ok(value: Any, name: str) -> bool:
    if name in ("number", "integer") and isinstance(value, bool):
        return False
    if name == "number" and isinstance(value, float) and not math.isfinite(value):
        return False
    return isinstance(value, _TYPES[name])


def validate(value: Any, schema: dict[str, Any], where: str = "arguments") -> None:
    """Check `value` against the JSON Schema subset the tools use; raise ToolError naming the first problem."""
    types = schema.get("type")
    if types and not any(_type_ok(value, t) for t in ([types] if isinstance(types, str) else types)):
        raise ToolError(f"{where} must be of type {types if isinstance(types, str) else ' or '.join(types)}")
    if "enum" in schema and value not in schema["enum"]:
        raise ToolError(f"{where} must be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise ToolError(f"{where} must be at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise ToolError(f"{where} must be at most {schema['maximum']}")
    if isinstance(value, str) and len(value.strip()) < schema.get("minLength", 0):
        raise ToolError(f"{where} must not be empty")
    if isinstance(value, list) and "items" in schema:
        for number, item in enumerate(value):
            validate(item, schema["items"], f"{where}[{number}]")
    if isinstance(value, dict):
        _validate_object(value, schema, where)


def _validate_object(value: dict[str, Any], schema: dict[str, Any], where: str) -> None:
    properties = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in value:
            raise ToolError(f"{where}.{name} is required")
    for name, item in value.items():
        if name in properties:
            validate(item, properties[name], f"{where}.{name}")
        elif schema.get("additionalProperties") is False:
            raise ToolError(f"{where}.{name} is not a known argument; known: {', '.join(properties)}")


# -- shaping results --------------------------------------------------------------


def _price(value: float) -> float | None:
    return None if value != value else round(value, 2)


def product_source(catalog: Catalog, product_id: int) -> Source:
    return Source("product", catalog.skus[product_id], catalog.names[product_id], catalog.urls[product_id])


def summary(catalog: Catalog, product_id: int, attributes: Sequence[str] = ()) -> dict[str, Any]:
    """A product as a search result shows it: price, sale, stock, categories, and the asked-about attributes."""
    item: dict[str, Any] = {
        "sku": catalog.skus[product_id],
        "name": catalog.names[product_id],
        "price": _price(catalog.prices[product_id]),
    }
    if catalog.currencies[product_id]:
        item["currency"] = catalog.currencies[product_id]
    if product_id in catalog.price_ranges:
        low, high = catalog.price_ranges[product_id]
        if low != high:
            item["price_range"] = [round(low, 2), round(high, 2)]
    if catalog.on_sale[product_id]:
        item.update(
            on_sale=True,
            regular_price=_price(catalog.regular_prices[product_id]),
            sale_price=_price(catalog.sale_prices[product_id]),
        )
    if catalog.in_stock[product_id] >= 0:
        item["in_stock"] = bool(catalog.in_stock[product_id])
    if catalog.stock_quantity[product_id] >= 0:
        item["stock_quantity"] = catalog.stock_quantity[product_id]
    if catalog.product_categories[product_id]:
        item["categories"] = list(catalog.product_categories[product_id])
    shown = {}
    for name in attributes:
        attribute = catalog.attribute(name) or search.resolve_attribute(catalog, name)
        raw = attribute.raw_of(product_id)
        if raw is not None:
            shown[attribute.key] = raw
    if shown:
        item["attributes"] = shown
    return item


def detail(catalog: Catalog, product_id: int, variant: int = -1) -> dict[str, Any]:
    item = summary(catalog, product_id)
    item.update(
        description=catalog.descriptions[product_id],
        url=catalog.urls[product_id],
        properties=catalog.properties_of(product_id),
        options=catalog.options_of(product_id),
        variants=catalog.variants.get(product_id, []),
    )
    if variant >= 0:
        item["matched_variant"] = catalog.variants[product_id][variant]["sku"]
    return item


# -- the tools ---------------------------------------------------------------------


def _query(args: dict[str, Any]) -> search.ProductQuery:
    filters = [search.Filter(f["attribute"], f["op"], f["value"]) for f in args.get("filters", [])]
    return search.ProductQuery(
        query=args.get("query"),
        category=args.get("category"),
        filters=filters,
        min_price=args.get("min_price"),
        max_price=args.get("max_price"),
        on_sale=args.get("on_sale"),
        in_stock=args.get("in_stock"),
        sort=args.get("sort"),
        order=args.get("order", "asc"),
        limit=args.get("limit", 10),
    )


def run_search_products(knowledge: Knowledge, args: dict[str, Any]) -> ToolResult:
    validate(args, SEARCH_PRODUCTS_SCHEMA)
    catalog: Catalog = knowledge.catalog
    query = _query(args)
    total, ids = search.run(catalog, knowledge.index, query)
    shown = [f.attribute for f in query.filters]
    if query.sort and query.sort not in ("price", "relevance"):
        shown.append(query.sort)
    items = [summary(catalog, i, shown) for i in ids]
    content: dict[str, Any] = {"total": total, "items": items}
    if not total and query.in_stock is not None and not any(flag >= 0 for flag in catalog.in_stock):
        # "none in stock" would be false: the data says nothing about stock
        content["note"] = "no product in this catalog records whether it is in stock."
    return ToolResult(content, len(items), [product_source(catalog, i) for i in ids])


def find_product(catalog: Catalog, sku: str | None, name: str | None) -> tuple[int, int]:
    """(product id, variant number or -1) by SKU, exact name, or the name sharing most words."""
    if sku:
        found = catalog.find_sku(sku)
        if found is None:
            raise ToolError(f"no product has the SKU {sku!r}")
        return found
    if not name:
        raise ToolError("give a sku or a name")
    exact = catalog.find_name(name)
    if exact is not None:
        return exact, -1
    wanted = set(tokenize(name))
    ids = search.text_ids_in_names(catalog, wanted)
    if not ids:
        raise ToolError(f"no product is named {name!r}")
    best = max(ids, key=lambda i: (len(wanted & set(tokenize(catalog.names[i]))), -len(tokenize(catalog.names[i])), -i))
    return best, -1


def run_get_product(knowledge: Knowledge, args: dict[str, Any]) -> ToolResult:
    validate(args, GET_PRODUCT_SCHEMA)
    catalog: Catalog = knowledge.catalog
    product_id, variant = find_product(catalog, args.get("sku"), args.get("name"))
    return ToolResult({"product": detail(catalog, product_id, variant)}, 1, [product_source(catalog, product_id)])


def run_search_documents(knowledge: Knowledge, args: dict[str, Any]) -> ToolResult:
    validate(args, SEARCH_DOCUMENTS_SCHEMA)
    limit = args.get("limit", 3)
    index = knowledge.index
    passages: list[Passage] = []
    sources: list[Source] = []
    if index is not None and len(index):
        weights: dict[str, float] = {}
        for term in tokenize(args["query"]):
            weights[term] = weights.get(term, 0.0) + 1.0
        for record, score in index.search_terms(weights, limit * 8):
            if record.type == "document" and len(passages) < limit:
                passages.append(
                    {
                        "document": record.title,
                        "url": record.url,
                        "id": record.id,
                        "text": record.text,
                        "score": round(score, 3),
                    }
                )
                if all(s.id != record.id for s in sources):
                    sources.append(Source.from_record(record))
    return ToolResult({"total": len(passages), "passages": passages}, len(passages), sources)


SEARCH_PRODUCTS = Tool(
    "search_products",
    "Find products: filter by text, category, attribute values, price, sale and stock; sort by "
    "price or a numeric attribute. Returns the exact number of matches (total) and the items.",
    SEARCH_PRODUCTS_SCHEMA,
    run_search_products,
)
GET_PRODUCT = Tool(
    "get_product",
    "One product by SKU or name, with every property, its options and variants.",
    GET_PRODUCT_SCHEMA,
    run_get_product,
)
SEARCH_DOCUMENTS = Tool(
    "search_documents",
    "Passages of the shop's documents (policies, guides) that match a query, each with its document.",
    SEARCH_DOCUMENTS_SCHEMA,
    run_search_documents,
)

TOOLS: tuple[Tool, ...] = (SEARCH_PRODUCTS, GET_PRODUCT, SEARCH_DOCUMENTS)
_BY_NAME = {t.name: t for t in TOOLS}


def tool(name: str) -> Tool:
    found = _BY_NAME.get(name)
    if found is None:
        raise ToolError(f"no tool named {name!r}; the tools are: {', '.join(_BY_NAME)}")
    return found
