"""Each data set's knowledge (typed catalog + search index), loaded from its S3 snapshot once per worker instance
and kept while current, in an LRU bounded by the snapshots' sizes (a worker answering many data sets must not
grow without limit)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from parley.agent.contracts import Knowledge
from parley.agent.knowledge import empty, unpack
from parley.config import settings
from parley.dal import blobs

if TYPE_CHECKING:
    from parley.dal.entities import DataSet

_lock = threading.Lock()
_cache: OrderedDict[int, tuple[int, int, Knowledge]] = OrderedDict()  # id -> (version, cost, knowledge)


def budget_bytes() -> int:
    return settings().knowledge_cache_bytes


def knowledge_for(data_set: DataSet) -> Knowledge:
    data_set_id, version = data_set["id"], data_set.get("index_version", 0)
    with _lock:
        cached = _cache.get(data_set_id)
        if cached and cached[0] == version:
            _cache.move_to_end(data_set_id)
            return cached[2]
    if not version or not data_set.get("index_key"):
        knowledge, cost = empty(), 0
    else:
        data = blobs.get(data_set["index_key"])
        # in memory a snapshot takes a few times its compressed size; the ratio only needs to be consistent
        knowledge, cost = unpack(data), len(data) * 4
    with _lock:
        _cache[data_set_id] = (version, cost, knowledge)
        _cache.move_to_end(data_set_id)
        _evict(budget_bytes())
    return knowledge


def _evict(budget: int) -> None:
    total = sum(cost for _, cost, _ in _cache.values())
    while total > budget and len(_cache) > 1:
        _, (_, cost, _) = _cache.popitem(last=False)
        total -= cost


def cached_ids() -> list[int]:
    with _lock:
        return list(_cache)


def clear() -> None:
    with _lock:
        _cache.clear()
