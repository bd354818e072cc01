"""Product files as shops export them, turned into the product JSON the load API takes.

Formats: a WooCommerce product CSV export, a Shopify product CSV export, the generic CSV (sku, name, ...; any
other column a property) and JSON Lines. `parse_products` detects the format from the file's name and header
unless told. Rows come back as (line, item) or (line, error message); the caller validates items with
the API's Product model. docs/imports.md has the column mappings.
"""

from __future__ import annotations

from typing import Any, Protocol

from parley_client.imports import generic, shopify, woocommerce
from parley_client.imports.text import CellError, Parsed, Table, read_table

FORMATS = ("auto", "woocommerce", "shopify", "csv", "jsonl")
FORMAT_NAMES = {
    "woocommerce": "a WooCommerce product export",
    "shopify": "a Shopify product export",
    "csv": "a generic product CSV",
    "jsonl": "JSON Lines",
}
JSONL_SUFFIXES = (".jsonl", ".ndjson")


class _ShopExport(Protocol):
    """What the modules of the shops' formats (woocommerce, shopify) provide."""

    TYPICAL_COLUMNS: tuple[str, ...]

    def looks_like(self, header: list[str]) -> bool: ...

    def products(self, table: Table) -> Parsed: ...


class UnreadableFile(ValueError):
    """A file that cannot be read as the format asked for (its header, mostly)."""


def detect(suffix: str, text: str) -> str:
    """The format of a file: JSON Lines by its suffix, else the CSV flavour its header shows."""
    if suffix.lower() in JSONL_SUFFIXES:
        return "jsonl"
    try:
        header = read_table(text.split("\n", 1)[0]).header
    except CellError:
        return "csv"  # reported when the file is read
    if shopify.looks_like(header):
        return "shopify"
    if woocommerce.looks_like(header):
        return "woocommerce"
    return "csv"


def parse_products(text: str, fmt: str) -> Parsed:
    if fmt == "jsonl":
        return Parsed(fmt, list(generic.jsonl_rows(text)))
    try:
        table = read_table(text)
    except CellError as exc:
        raise UnreadableFile(str(exc)) from None
    if not table.header:
        return Parsed(fmt)
    if fmt == "csv":
        try:
            return Parsed(fmt, list(generic.csv_rows(table, "products")))
        except CellError as exc:
            raise UnreadableFile(str(exc)) from None
    reader: _ShopExport = woocommerce if fmt == "woocommerce" else shopify
    if not reader.looks_like(table.header):
        raise UnreadableFile(
            f"line 1: the header is not that of {FORMAT_NAMES[fmt]} "
            f"(expected columns such as {', '.join(reader.TYPICAL_COLUMNS)})"
        )
    return reader.products(table)


def parse_documents(text: str, fmt: str) -> list[tuple[int, Any]]:
    if fmt == "jsonl":
        return list(generic.jsonl_rows(text))
    try:
        table = read_table(text)
        return list(generic.csv_rows(table, "documents")) if table.header else []
    except CellError as exc:
        raise UnreadableFile(str(exc)) from None
