"""WooCommerce's product CSV export (Products > Export): one row per product or variation.

Variations become items with `parent_sku` and `options`; a variable product's attributes that its variations
use become its `options`, every other attribute a property named by the attribute (`Color`). See
docs/imports.md for the whole column mapping."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from parley_client.imports.text import CellError, Parsed, Record, Table, count, flag, number, split_list, strip_html

# Columns WooCommerce writes that say how the shop runs rather than what the product is: left out.
BOOKKEEPING = frozenset(
    {
        "id",
        "type",
        "published",
        "is featured?",
        "visibility in catalog",
        "tax status",
        "tax class",
        "low stock amount",
        "backorders allowed?",
        "sold individually?",
        "allow customer reviews?",
        "purchase note",
        "download limit",
        "download expiry days",
        "grouped products",
        "upsells",
        "cross-sells",
        "button text",
        "position",
    }
)
# Columns read into product fields.
MAPPED = frozenset(
    {
        "sku",
        "name",
        "short description",
        "description",
        "sale price",
        "regular price",
        "categories",
        "in stock?",
        "stock",
        "parent",
        "images",
        "external url",
    }
)
ATTRIBUTE = re.compile(r"^attribute (\d+) (name|value\(s\)|visible|global|default)$", re.IGNORECASE)
DIMENSION = re.compile(r"^(weight|length|width|height) \(([^)]+)\)$", re.IGNORECASE)
META = re.compile(r"^meta: (.+)$", re.IGNORECASE)
# WooCommerce escapes cells that a spreadsheet would run as a formula with a leading apostrophe.
FORMULA_ESCAPE = re.compile(r"^'(?=[=+\-@\t\r])")
SYNTHETIC_SKU = "wc-{id}"

HEADER_MARKS = ("type", "sku", "name", "regular price")
TYPICAL_COLUMNS = ("ID", "Type", "SKU", "Name", "Regular price", "Parent")


def looks_like(header: list[str]) -> bool:
    names = {column.lower() for column in header}
    return all(mark in names for mark in HEADER_MARKS) and ("parent" in names or "in stock?" in names)


@dataclass
class _Row(Record):
    columns: dict[str, str] = field(default_factory=dict)  # lower-case name -> the name as written
    sku: str = ""
    types: frozenset[str] = frozenset()


@dataclass
class _Family:
    by_sku: dict[str, _Row]
    sku_by_id: dict[str, str]

    def parent_sku(self, row: _Row) -> str:
        parent = row.get("parent")
        if not parent:
            raise CellError("Parent", "a variation needs its parent product (id:<ID> or the parent's SKU)")
        if not parent.lower().startswith("id:"):
            return parent
        sku = self.sku_by_id.get(parent[3:].strip())
        if sku is None:
            raise CellError("Parent", f"{parent} is not a product of this file; use the parent's SKU instead")
        return sku


def products(table: Table) -> Parsed:
    result = Parsed("woocommerce", list(table.problems))
    rows = _rows(table)
    named = _name_rows(rows, result)
    family = _Family({row.sku: row for row in named}, {row.get("id"): row.sku for row in named if row.get("id")})
    used = _options_used(named, family)
    items: list[tuple[int, Any]] = []
    for row in named:
        try:
            items.append((row.line, _item(row, family, used)))
        except CellError as exc:
            result.rows.append((row.line, str(exc)))
    result.rows.extend(_parents_first(items))
    return result


def _rows(table: Table) -> list[_Row]:
    columns = {name.lower(): name for name in table.header}
    rows = []
    for record in table.by_column():
        cells = {name: FORMULA_ESCAPE.sub("", cell) for name, cell in record.cells.items()}
        types = frozenset(t.strip().lower() for t in cells.get("type", "").split(",") if t.strip())
        rows.append(_Row(record.line, cells, columns, types=types))
    return rows


def _name_rows(rows: list[_Row], result: Parsed) -> list[_Row]:
    """Give every row its SKU: as exported, else one made from its WooCommerce ID (noted once)."""
    named, synthesised = [], []
    for row in rows:
        row.sku = row.get("sku")
        if not row.sku and row.get("id"):
            row.sku = SYNTHETIC_SKU.format(id=row.get("id"))
            synthesised.append(str(row.line))
        if not row.sku:
            result.rows.append((row.line, "SKU: empty, and there is no ID to name the product by"))
            continue
        named.append(row)
    if synthesised:
        result.notes.append(
            f"line(s) {', '.join(synthesised)} have no SKU: they were given "
            f"{SYNTHETIC_SKU.format(id='<ID>')} from their WooCommerce ID, stable across exports"
        )
    return named


def _options_used(rows: list[_Row], family: _Family) -> dict[str, set[str]]:
    """The attribute names each variable product's variations are defined by, by the parent's SKU."""
    used: dict[str, set[str]] = {}
    for row in rows:
        if "variation" not in row.types:
            continue
        try:
            parent = family.parent_sku(row)
        except CellError:
            continue  # reported with the row itself
        # an attribute named with no value is "any value" of it: still one the variations are defined by
        used.setdefault(parent, set()).update(name for name, _ in _attributes(row))
    return used


def _attributes(row: _Row) -> list[tuple[str, str]]:
    """(name, value(s)) of each `Attribute N` pair that has a name, in column order."""
    pairs = []
    for column in row.cells:
        match = ATTRIBUTE.match(column)
        if match and match.group(2).lower() == "name" and row.get(column):
            values = row.get(f"attribute {match.group(1)} value(s)")
            pairs.append((row.get(column), values))
    return pairs


def _item(row: _Row, family: _Family, used: dict[str, set[str]]) -> dict[str, Any]:
    item: dict[str, Any] = {
        "sku": row.sku,
        "name": row.get("name"),
        "description": _description(row),
        "categories": split_list(row.get("categories")),
        "properties": _properties(row),
    }
    item.update(_offer(row))
    if row.get("external url"):
        item["url"] = row.get("external url")
    attributes = _attributes(row)
    if "variation" in row.types:
        item["parent_sku"] = family.parent_sku(row)
        item["options"] = {name: value for name, value in attributes if value}
        if not item["name"]:
            parent = family.by_sku.get(item["parent_sku"])
            base = parent.get("name") if parent else item["parent_sku"]
            item["name"] = " - ".join(filter(None, [base, ", ".join(item["options"].values())]))
    elif "variable" in row.types:
        declared = used.get(row.sku)  # None: no variations in this file, so take every attribute as an option
        options = {
            name: split_list(values) for name, values in attributes if values and (declared is None or name in declared)
        }
        item["properties"].update({name: values for name, values in attributes if values and name not in options})
        if options:
            item["options"] = options
    else:
        item["properties"].update({name: values for name, values in attributes if values})
    return item


def _description(row: _Row) -> str:
    # WooCommerce writes a description's line breaks as the two characters \n.
    parts = [
        strip_html(row.cells.get(column, "").replace("\\n", "\n")) for column in ("short description", "description")
    ]
    return "\n\n".join(part for part in parts if part)


def _offer(row: _Row) -> dict[str, Any]:
    offer: dict[str, Any] = {
        "regular_price": number(row.get("regular price"), "Regular price"),
        "sale_price": number(row.get("sale price"), "Sale price"),
        "stock_quantity": count(row.get("stock"), "Stock"),
    }
    stock_status = row.get("in stock?").lower()
    if stock_status == "backorder":  # orderable, shipped when restocked: not in stock now
        offer["in_stock"] = False
    else:
        offer["in_stock"] = flag(stock_status, "In stock?")
    return {key: value for key, value in offer.items() if value is not None}


def _properties(row: _Row) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for column, raw in row.cells.items():
        value = raw.strip()
        if not value or column in BOOKKEEPING or column in MAPPED or ATTRIBUTE.match(column):
            continue
        dimension, meta = DIMENSION.match(column), META.match(column)
        if dimension:  # "Weight (lbs)" 1.5 -> Weight: "1.5 lbs", a value the catalog reads with its unit
            properties[row.columns[column][: dimension.end(1)]] = f"{value} {dimension.group(2)}"
        elif meta:
            key = row.columns[column][len("meta: ") :].strip()
            if not key.startswith("_"):  # underscore keys are plugins' internal state
                properties[key] = value
        else:
            properties[row.columns[column]] = value
    images = split_list(row.get("images"))
    if images:
        properties["Image"] = images[0]
    return properties


def _parents_first(items: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    """Each variation right after its parent, so that no load chunk holds a variation before its parent."""
    children: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    skus = {item["sku"] for _, item in items}
    for line, item in items:
        if item.get("parent_sku") in skus:
            children.setdefault(item["parent_sku"], []).append((line, item))
    ordered = []
    for line, item in items:
        if item.get("parent_sku") in skus:
            continue
        ordered.append((line, item))
        ordered.extend(children.pop(item["sku"], []))
    for rest in children.values():  # a variation of a variation: keep it rather than lose it
        ordered.extend(rest)
    return ordered
