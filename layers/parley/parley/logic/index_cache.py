"""Search indexes, loaded from their S3 snapshot once per worker instance and kept while current."""

from __future__ import annotations

from typing import Any

from parley.dal import blobs
from parley.retrieval import SearchIndex

_cache: dict[int, tuple[int, SearchIndex]] = {}


def index_for(data_set: dict[str, Any]) -> SearchIndex:
    data_set_id, version = data_set["id"], data_set.get("index_version", 0)
    cached = _cache.get(data_set_id)
    if cached and cached[0] == version:
        return cached[1]
    if not version or not data_set.get("index_key"):
        index = SearchIndex.build([], [])
    else:
        index = SearchIndex.from_bytes(blobs.get(data_set["index_key"]))
    _cache[data_set_id] = (version, index)
    return index


def clear() -> None:
    _cache.clear()
