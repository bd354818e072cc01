"""A data set's knowledge snapshot: the search index and the typed catalog in one S3 object.

Layout: MAGIC | u32 length of the index snapshot | index snapshot | catalog snapshot. An object written before
catalogs existed is a bare index snapshot: its catalog is rebuilt from the index's product records."""

from __future__ import annotations

from typing import Any

from parley.agent.catalog import Catalog
from parley.agent.contracts import Knowledge
from parley.retrieval import SearchIndex

_MAGIC = b"\x89PKNOW\r\n"


def build(products: list[dict[str, Any]], documents: list[dict[str, Any]]) -> Knowledge:
    """Index and catalog from the same product list (so a record number finds its product)."""
    return Knowledge(Catalog.build(products), SearchIndex.build(products, documents))


def pack(knowledge: Knowledge) -> bytes:
    index = knowledge.index.to_bytes()
    return b"".join([_MAGIC, len(index).to_bytes(4, "little"), index, knowledge.catalog.to_bytes()])


def unpack(data: bytes) -> Knowledge:
    if not data.startswith(_MAGIC):
        index = SearchIndex.from_bytes(data)
        return Knowledge(Catalog.from_records(index.records), index)
    start = len(_MAGIC) + 4
    end = start + int.from_bytes(data[len(_MAGIC) : start], "little")
    if end > len(data):
        raise ValueError("corrupt knowledge snapshot: truncated")
    return Knowledge(Catalog.from_bytes(data[end:]), SearchIndex.from_bytes(data[start:end]))


def empty() -> Knowledge:
    return Knowledge(Catalog.build([]), SearchIndex.build([], []))
