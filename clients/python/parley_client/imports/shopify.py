"""Shopify's product CSV export (Products > Export): rows sharing a Handle are one product; its first row holds
the product's columns, every row with option values, a variant SKU or a price is one variant, and rows with
only an image are skipped. See docs/imports.md for the whole column mapping."""

from __future__ import annotations

import re
from typing import Any

from parley_client.imports.text import CellError, Parsed, Record, Table, count, number, slug, split_list, strip_html

OPTIONS = (1, 2, 3)
# Columns read into the product or its variants.
PRODUCT_MAPPED = frozenset({"handle", "title", "body (html)", "product category", "type", "image src"})
VARIANT_MAPPED = frozenset(
    {
        "variant sku",
        "variant grams",
        "variant inventory qty",
        "variant price",
        "variant compare at price",
        "variant barcode",
        "variant weight unit",
        "variant inventory tracker",
    }
    | {f"option{n} {part}" for n in OPTIONS for part in ("name", "value")}
)
# Store settings rather than product facts, left out. `Cost per item` is what the shop pays: never shown.
BOOKKEEPING = frozenset(
    {
        "published",
        "status",
        "variant inventory policy",
        "variant fulfillment service",
        "variant requires shipping",
        "variant taxable",
        "variant tax code",
        "variant image",
        "image position",
        "image alt text",
        "gift card",
        "seo title",
        "seo description",
        "cost per item",
    }
    | {f"option{n} linked to" for n in OPTIONS}
)
MARKET = re.compile(r"^(google shopping|included|price|compare at price) / ", re.IGNORECASE)
METAFIELD = re.compile(r"^(.*?)\s*\((product|variant)\.metafields\.[^)]*\)$", re.IGNORECASE)
# Grams (how Shopify exports every weight) in the unit the shop shows.
GRAMS_PER = {"g": 1.0, "kg": 1000.0, "lb": 453.59237, "oz": 28.349523125}
DEFAULT_OPTION = ("title", "default title")  # the option Shopify gives a product without variants
TYPICAL_COLUMNS = ("Handle", "Title", "Option1 Name", "Variant SKU", "Variant Price")


def looks_like(header: list[str]) -> bool:
    names = {column.lower() for column in header}
    return "handle" in names and bool(names & {"variant sku", "variant price", "option1 name", "body (html)"})


def _is_variant(row: Record) -> bool:
    return any(row.get(c) for c in ("option1 value", "variant sku", "variant price"))


def products(table: Table) -> Parsed:
    result = Parsed("shopify", list(table.problems))
    columns = {name.lower(): name for name in table.header}
    unnamed: list[tuple[int, str]] = []  # variants given a SKU made from their handle and options
    for handle, rows in _by_handle(table, result).items():
        try:
            result.rows.append((rows[0].line, _product(handle, rows, columns, unnamed)))
        except _RowError as exc:
            result.rows.append((exc.line, exc.message))
    if unnamed:
        result.notes.append(
            f"line(s) {', '.join(str(line) for line, _ in unnamed)} have no Variant SKU: they were "
            f"given <handle>-<option values> ({unnamed[0][1]}, ...)"
        )
    return result


class _RowError(Exception):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line, self.message = line, message


def _by_handle(table: Table, result: Parsed) -> dict[str, list[Record]]:
    groups: dict[str, list[Record]] = {}
    for row in table.by_column():
        if not row.get("handle"):
            result.rows.append((row.line, "Handle: empty; every row names the product it belongs to"))
            continue
        groups.setdefault(row.get("handle"), []).append(row)
    return groups


def _product(
    handle: str, rows: list[Record], columns: dict[str, str], unnamed: list[tuple[int, str]]
) -> dict[str, Any]:
    first = rows[0]
    if not first.get("title"):
        raise _RowError(first.line, f"Title: the first row of {handle} must hold the product's Title")
    item: dict[str, Any] = {
        "sku": handle,
        "name": first.get("title"),
        "description": strip_html(first.cells.get("body (html)", "")),
        "categories": [c for c in (first.get("product category"), first.get("type")) if c],
        "properties": _properties(first, columns, "product"),
    }
    if first.get("image src"):
        item["properties"]["Image"] = first.get("image src")
    names = [first.get(f"option{n} name") for n in OPTIONS]
    variants = [_variant(handle, item["name"], row, names, columns, unnamed) for row in rows if _is_variant(row)]
    if len(variants) == 1 and _is_default(first):
        # A product without options: its one variant's price and stock are the product's.
        single = variants[0]
        item.update({k: v for k, v in single.items() if k not in ("sku", "name", "options", "properties")})
        item["properties"].update(single["properties"])
        if single["sku"] != _synthetic_sku(handle, {}):
            item["properties"]["SKU"] = single["sku"]
    elif variants:
        item["variants"] = variants
        item["options"] = _declared(variants)
    return item


def _is_default(row: Record) -> bool:
    return (row.get("option1 name").lower(), row.get("option1 value").lower()) in (DEFAULT_OPTION, ("", ""))


def _synthetic_sku(handle: str, options: dict[str, str]) -> str:
    return "-".join(filter(None, [handle, slug(" ".join(options.values()))]))


def _variant(
    handle: str, title: str, row: Record, names: list[str], columns: dict[str, str], unnamed: list[tuple[int, str]]
) -> dict[str, Any]:
    options = {
        names[n - 1] or f"Option{n}": row.get(f"option{n} value")
        for n in OPTIONS
        if row.get(f"option{n} value") and not _is_default(row)
    }
    sku = row.get("variant sku")
    if not sku:
        sku = _synthetic_sku(handle, options)
    if not row.get("variant sku") and options:
        unnamed.append((row.line, sku))
    variant: dict[str, Any] = {"sku": sku, "options": options, "properties": _properties(row, columns, "variant")}
    if options:
        variant["name"] = f"{title} - {' / '.join(options.values())}"
    try:
        variant.update(_offer(row))
        weight = _weight(row)
    except CellError as exc:
        raise _RowError(row.line, str(exc)) from None
    if weight:
        variant["properties"]["Weight"] = weight
    if row.get("variant barcode"):
        variant["properties"]["Barcode"] = row.get("variant barcode")
    return variant


def _offer(row: Record) -> dict[str, Any]:
    price = number(row.get("variant price"), "Variant Price")
    compare_at = number(row.get("variant compare at price"), "Variant Compare At Price")
    offer: dict[str, Any] = {}
    if price is not None and compare_at is not None and compare_at > price:
        offer.update(regular_price=compare_at, sale_price=price)
    elif price is not None:
        offer["regular_price"] = price
    # Without an inventory tracker Shopify does not count stock, and the quantity it exports means nothing.
    if row.get("variant inventory tracker") or "variant inventory tracker" not in row.cells:
        quantity = count(row.get("variant inventory qty"), "Variant Inventory Qty")
        if quantity is not None:
            offer["stock_quantity"] = quantity
    return offer


def _weight(row: Record) -> str | None:
    grams = number(row.get("variant grams"), "Variant Grams")
    if not grams:
        return None
    unit = row.get("variant weight unit").lower() or "g"
    per = GRAMS_PER.get(unit)
    if per is None:
        raise CellError("Variant Weight Unit", f"{unit!r} is not one of {', '.join(GRAMS_PER)}")
    return f"{round(grams / per, 2):g} {unit}"


def _declared(variants: list[dict[str, Any]]) -> dict[str, list[str]]:
    declared: dict[str, list[str]] = {}
    for variant in variants:
        for name, value in variant["options"].items():
            values = declared.setdefault(name, [])
            if value not in values:
                values.append(value)
    return declared


def _properties(row: Record, columns: dict[str, str], level: str) -> dict[str, Any]:
    """Columns this importer does not map, as properties of the product (its first row) or of a variant
    (variant metafields only). A metafield column `Fabric (product.metafields.custom.fabric)` is `Fabric`."""
    properties: dict[str, Any] = {}
    for column, raw in row.cells.items():
        value = raw.strip()
        if (
            not value
            or column in PRODUCT_MAPPED
            or column in VARIANT_MAPPED
            or column in BOOKKEEPING
            or MARKET.match(column)
        ):
            continue
        metafield = METAFIELD.match(columns[column])
        if (metafield.group(2).lower() if metafield else "product") != level:
            continue
        name = metafield.group(1) if metafield and metafield.group(1) else columns[column]
        properties[name] = ", ".join(split_list(value, ";")) if metafield else value
    return properties
