"""Today's generic CSV (sku, name, description, price, categories separated by |, any other column a property),
and JSON Lines (one product or document object per line, as the API takes it)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from parley_client.imports.text import CellError, Table, count, flag, number

PRODUCT_COLUMNS = ("sku", "name", "description", "price", "categories")
DOCUMENT_COLUMNS = ("title", "content", "url")
# The typed product fields a CSV column may also be named after (anything else stays a property).
TYPED_COLUMNS = ("currency", "regular_price", "sale_price", "in_stock", "stock_quantity", "url", "parent_sku")


def _lenient_number(raw: str) -> Any:
    """A price as a number when it reads as one; anything else is left for validation to reject, naming it."""
    try:
        return number(raw, "price")
    except CellError:
        return raw


def _typed(name: str, raw: str) -> Any:
    if name in ("regular_price", "sale_price"):
        return _lenient_number(raw)
    if name == "stock_quantity":
        return count(raw, name)
    if name == "in_stock":
        return flag(raw, name)
    return raw.strip()


def product_from_row(row: dict[str, str]) -> dict[str, Any]:
    item: dict[str, Any] = {"sku": row.get("sku", ""), "name": row.get("name", "")}
    if row.get("description"):
        item["description"] = row["description"]
    price = row.get("price", "")
    item["price"] = _lenient_number(price) if price.strip() else None
    item["categories"] = [c.strip() for c in (row.get("categories") or "").split("|") if c.strip()]
    item.update({name: _typed(name, row[name]) for name in TYPED_COLUMNS if (row.get(name) or "").strip()})
    known = PRODUCT_COLUMNS + TYPED_COLUMNS
    item["properties"] = {k: v for k, v in row.items() if k not in known and v != ""}
    return item


def document_from_row(row: dict[str, str]) -> dict[str, Any]:
    return {"title": row.get("title", ""), "content": row.get("content", ""), "url": row.get("url") or None}


def check_header(header: list[str], kind: str) -> list[str]:
    """The column names rows are keyed by; raises CellError (as line 1) for a header that cannot be used."""
    known = {c.lower() for c in header}
    required = ("sku", "name") if kind == "products" else ("title", "content")
    missing = [c for c in required if c not in known]
    if missing:
        hint = "; WooCommerce and Shopify exports are recognised by their English headers" if kind == "products" else ""
        raise CellError(
            "line 1",
            f"the header lacks the column(s) {', '.join(missing)} "
            f"(expected {', '.join(PRODUCT_COLUMNS if kind == 'products' else DOCUMENT_COLUMNS)}{hint})",
        )
    if kind == "documents":
        unknown = [c for c in header if c.lower() not in DOCUMENT_COLUMNS]
        if unknown:
            raise CellError("line 1", f"unknown column(s) {', '.join(unknown)}; documents have title, content, url")
    if len(set(header)) != len(header):
        raise CellError("line 1", "the header repeats a column")
    # Known columns match case-insensitively; every other column is a product property, named as written.
    fields = PRODUCT_COLUMNS + TYPED_COLUMNS if kind == "products" else DOCUMENT_COLUMNS
    return [c.lower() if c.lower() in fields else c for c in header]


def csv_rows(table: Table, kind: str) -> Iterator[tuple[int, Any]]:
    """(line, item or error message) per record of a generic CSV file."""
    names = check_header(table.header, kind)
    convert: Callable[[dict[str, str]], dict[str, Any]] = product_from_row if kind == "products" else document_from_row
    for line, record in table.records:
        try:
            yield line, convert(dict(zip(names, record)))
        except CellError as exc:
            yield line, str(exc)
    yield from table.problems


def jsonl_rows(text: str) -> Iterator[tuple[int, Any]]:
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except ValueError as exc:
            yield line, f"not valid JSON ({exc})"
            continue
        yield line, value if isinstance(value, dict) else "expected a JSON object"
