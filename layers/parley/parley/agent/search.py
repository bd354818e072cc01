"""Filtering, sorting and counting the catalog's products: what `search_products` runs.

A filter yields a set of product ids from one column (a numeric range by bisecting the values sorted once, a
value's ids from the attribute's value map, a category's ids); the sets are intersected smallest first, and a sort
walks the precomputed order of its column until it has `limit` matches. No query looks at every product's
fields."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from parley.agent.catalog import Attribute, Catalog, norm
from parley.agent.contracts import ToolError
from parley.agent.values import in_base_unit, same_family, typed
from parley.retrieval import tokenize

OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "contains", "in")


@dataclass
class Filter:
    attribute: str
    op: str
    value: Any


@dataclass
class ProductQuery:
    query: str | None = None
    category: str | None = None
    filters: list[Filter] = field(default_factory=list)
    min_price: float | None = None
    max_price: float | None = None
    on_sale: bool | None = None
    in_stock: bool | None = None
    sort: str | None = None  # "price", "relevance", or an attribute
    order: str = "asc"
    limit: int = 10


def resolve_attribute(catalog: Catalog, name: str) -> Attribute:
    """An attribute by key or label; or the one attribute whose words hold every word of `name`."""
    found = catalog.attribute(name)
    if found is not None:
        return found
    wanted = set(tokenize(name))
    matches = [a for a in catalog.attributes.values() if wanted and wanted <= set(tokenize(" ".join(a.words)))]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(sorted(a.key for a in catalog.attributes.values())[:40])
    raise ToolError(f"unknown attribute {name!r}; the catalog's attributes are: {known}")


def resolve_category(catalog: Catalog, name: str) -> str:
    key = norm(name)
    if key in catalog.categories:
        return key
    wanted = tokenize(name)
    for candidate in catalog.categories:
        if tokenize(candidate) == wanted:
            return candidate
    known = ", ".join(sorted(catalog.category_names.values())[:40])
    raise ToolError(f"unknown category {name!r}; the catalog's categories are: {known}")


def _as_number(value: Any, attribute: Attribute) -> float | None:
    """A filter value as the attribute's numbers are kept: in the base unit of the value's own unit when it names
    one ("24 months"), else of the attribute's usual unit (a bare 24 on a months attribute)."""
    if isinstance(value, bool):
        return None
    reading = typed(value) if not isinstance(value, (int, float)) else None
    if reading is None:
        number = float(value)
    elif reading.kind == "number" and reading.number is not None:
        number = reading.number
    else:
        return None
    unit = (
        reading.unit
        if reading is not None and reading.unit and same_family(reading.unit, attribute.unit)
        else attribute.unit
    )
    return in_base_unit(number, unit)


def _numeric_ids(attribute: Attribute, op: str, number: float) -> set[int]:
    order = attribute.by_number()
    values = attribute.sorted_numbers()
    lo, hi = 0, len(order)
    if op in ("gt", "gte"):
        lo = (bisect_right if op == "gt" else bisect_left)(values, number)
    elif op in ("lt", "lte"):
        hi = (bisect_left if op == "lt" else bisect_right)(values, number)
    else:  # eq
        lo, hi = bisect_left(values, number), bisect_right(values, number)
    ids = attribute.ids
    return {ids[p] for p in order[lo:hi]}


def _value_ids(attribute: Attribute, value: Any) -> set[int]:
    if isinstance(value, bool):
        key = "yes" if value else "no"
    else:
        reading = typed(value)
        key = ("yes" if reading.flag else "no") if reading.kind == "bool" else norm(value)
    found = set(attribute.values.get(key, ()))
    if not found:  # "hoodie" finds "Hoodies": compare stems
        stems = tokenize(key)
        for candidate, ids in attribute.values.items():
            if stems and tokenize(candidate) == stems:
                found.update(ids)
    return found


def filter_ids(catalog: Catalog, flt: Filter) -> set[int]:
    if flt.op not in OPS:
        raise ToolError(f"unknown op {flt.op!r}; use one of {', '.join(OPS)}")
    attribute = resolve_attribute(catalog, flt.attribute)
    if flt.op == "in":
        values = flt.value if isinstance(flt.value, list) else [flt.value]
        return set().union(*(_value_ids(attribute, v) for v in values)) if values else set()
    if flt.op == "contains":
        wanted = norm(flt.value)
        return {i for key, ids in attribute.values.items() if wanted and wanted in key for i in ids}
    number = _as_number(flt.value, attribute)
    if flt.op in ("lt", "lte", "gt", "gte"):
        if number is None:
            raise ToolError(f"{flt.op} on {attribute.key!r} needs a number, not {flt.value!r}")
        return _numeric_ids(attribute, flt.op, number)
    if number is not None and attribute.numeric and not isinstance(flt.value, bool):
        matched = _numeric_ids(attribute, "eq", number)
    else:
        matched = _value_ids(attribute, flt.value)
    return set(attribute.ids) - matched if flt.op == "ne" else matched


def _price_ids(catalog: Catalog, low: float | None, high: float | None) -> set[int]:
    order = catalog.price_order
    values = catalog.sorted_prices()
    lo = bisect_left(values, low) if low is not None else 0
    hi = bisect_right(values, high) if high is not None else len(order)
    return set(order[lo:hi])


def text_ids(catalog: Catalog, index: Any, query: str) -> set[int]:
    """Products whose text holds every word of `query` (through the search index's postings when the catalog
    was built beside it, else by reading names and descriptions)."""
    terms = set(tokenize(query))
    if not terms:
        return set(range(len(catalog)))
    record_product = catalog.record_product if index is not None and catalog.aligned_with(index) else None
    result: set[int] | None = None
    for term in sorted(terms, key=lambda t: index.df(t) if record_product is not None else 0):
        if record_product is not None:
            limit = len(record_product)
            found = {record_product[r] for r in index.record_ids(term) if r < limit and record_product[r] >= 0}
        else:
            found = {
                i for i in (result if result is not None else range(len(catalog))) if term in catalog.text_terms(i)
            }
        result = found if result is None else result & found
        if not result:
            return set()
    return result or set()


def _sets(catalog: Catalog, index: Any, query: ProductQuery) -> Iterable[set[int]]:
    if query.category:
        yield set(catalog.categories[resolve_category(catalog, query.category)])
    for flt in query.filters:
        yield filter_ids(catalog, flt)
    if query.min_price is not None or query.max_price is not None:
        yield _price_ids(catalog, query.min_price, query.max_price)
    if query.on_sale is not None:
        on_sale = {i for i, flag in enumerate(catalog.on_sale) if flag}
        yield on_sale if query.on_sale else set(range(len(catalog))) - on_sale
    if query.in_stock is not None:
        wanted = 1 if query.in_stock else 0
        yield {i for i, flag in enumerate(catalog.in_stock) if flag == wanted}
    if query.query:
        yield text_ids(catalog, index, query.query)


def _sort_order(catalog: Catalog, sort: str) -> tuple[Any, Any]:
    """(ids in ascending order of the sort value, every product's value by id: NaN where it has none)."""
    if sort == "price":
        return catalog.price_order, catalog.prices
    attribute = resolve_attribute(catalog, sort)
    if not attribute.numeric:
        raise ToolError(f"cannot sort by {attribute.key!r}: its values are not numbers")
    return attribute.sorted_ids(), attribute.dense(len(catalog))


def _top(order: Any, values: Any, matches: set[int] | None, descending: bool, limit: int) -> list[int]:
    """The first `limit` matches in sort order (ties by id); matches without a value come last."""
    if matches is not None and len(matches) * 8 < len(order):
        ids = sorted(matches)
        known = [i for i in ids if values[i] == values[i]]
        known.sort(key=values.__getitem__, reverse=descending)
        if len(known) < limit:
            known += [i for i in ids if values[i] != values[i]]
        return known[:limit]
    picked = []
    for i in reversed(order) if descending else order:
        if matches is None or i in matches:
            picked.append(i)
            if len(picked) == limit:
                return picked
    if matches is not None:
        chosen = set(picked)
        picked.extend(sorted(i for i in matches if i not in chosen)[: limit - len(picked)])
    return picked


def run(catalog: Catalog, index: Any, query: ProductQuery) -> tuple[int, list[int]]:
    """(exact number of matches, the ids to show, in order)."""
    sets = sorted(_sets(catalog, index, query), key=len)
    matches: set[int] | None = None
    for found in sets:
        matches = found if matches is None else matches & found
    total = len(catalog) if matches is None else len(matches)
    limit = max(0, query.limit)
    sort = query.sort if query.sort not in (None, "relevance") else None
    if sort:
        order, values = _sort_order(catalog, sort)
        return total, _top(order, values, matches, query.order == "desc", limit)
    if query.query and matches:
        return total, _by_relevance(catalog, index, query.query, matches, limit)
    ids = range(len(catalog)) if matches is None else sorted(matches)
    return total, list(ids[:limit])


def _by_relevance(catalog: Catalog, index: Any, text: str, matches: set[int], limit: int) -> list[int]:
    ranked: list[int] = []
    if index is not None and catalog.aligned_with(index):
        weights = dict.fromkeys(tokenize(text), 1.0)
        record_product = catalog.record_product
        for record, _ in index.score_terms(weights, max(limit * 4, 20)):
            product = record_product[record] if record < len(record_product) else -1
            if product in matches and product not in ranked:
                ranked.append(product)
    rest = sorted(matches - set(ranked))
    return (ranked + rest)[:limit]


def text_ids_in_names(catalog: Catalog, terms: set[str]) -> set[int]:
    """Products whose name holds at least one of `terms`."""
    names = catalog.vocabulary.name_ids
    return {i for term in terms for i in names.get(term, ())}
