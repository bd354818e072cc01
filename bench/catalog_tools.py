"""9. Catalog tools at scale: the synthetic 100k-product catalog of `bench.retrieval_scale` as a typed catalog beside
its search index, in a fresh interpreter. Build (index + catalog, and each), peak RSS, catalog snapshot size and
load time, then tool latency: `search_products` with one filter and a sort (a numeric range, a value, a category or
a price range, sorted by price or a numeric attribute), and `get_product` by SKU."""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.common import PYTHON, ROOT, median, percentile
from bench.retrieval_scale import COMMON, catalog


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def search_arguments(rng: random.Random, colors: list[str]) -> dict[str, Any]:
    """One filter and one sort, of the kinds a shopper's question turns into."""
    kind = rng.randrange(4)
    if kind == 0:
        args = {"filters": [{"attribute": "speed_mbps", "op": "gte", "value": rng.choice([300, 500, 1000])}]}
    elif kind == 1:
        args = {"filters": [{"attribute": "color", "op": "eq", "value": rng.choice(colors)}]}
    elif kind == 2:
        args = {"category": rng.choice(COMMON)}
    else:
        low = rng.uniform(5, 400)
        args = {"min_price": round(low, 2), "max_price": round(low + rng.uniform(10, 100), 2)}
    args["sort"] = rng.choice(["price", "speed_mbps"])
    args["order"] = rng.choice(["asc", "desc"])
    args["limit"] = 10
    return args


def timed(run, knowledge, args) -> tuple[float, Any]:
    started = time.perf_counter()
    result = run(knowledge, args)
    return time.perf_counter() - started, result


def child(size: int, queries: int) -> dict[str, Any]:
    from parley.agent import knowledge as knowledge_module
    from parley.agent.catalog import Catalog
    from parley.agent.contracts import Knowledge
    from parley.agent.tools import tool
    from parley.retrieval import SearchIndex

    products, documents = catalog(size)
    before = _rss_mb()
    started = time.perf_counter()
    index = SearchIndex.build(products, documents)
    index_s = time.perf_counter() - started
    started = time.perf_counter()
    typed = Catalog.build(products)
    catalog_s = time.perf_counter() - started
    started = time.perf_counter()
    snapshot = knowledge_module.pack(Knowledge(typed, index))
    pack_s = time.perf_counter() - started
    peak = _rss_mb()
    catalog_bytes = typed.to_bytes()
    started = time.perf_counter()
    Catalog.from_bytes(catalog_bytes)
    catalog_load_s = time.perf_counter() - started
    knowledge = Knowledge(typed, index)
    rng = random.Random(7)
    colors = sorted(typed.attribute("color").values)[:50]
    search, get = tool("search_products").run, tool("get_product").run
    timed(search, knowledge, search_arguments(rng, colors))  # first use sorts the columns once
    search_times, totals = [], []
    for _ in range(queries):
        seconds, result = timed(search, knowledge, search_arguments(rng, colors))
        search_times.append(seconds)
        totals.append(result.content["total"])
    timed(get, knowledge, {"sku": products[0]["sku"]})  # first use builds the SKU map once
    get_times = [timed(get, knowledge, {"sku": rng.choice(products)["sku"]})[0] for _ in range(queries * 5)]
    return {
        "products": size,
        "index_build_s": index_s,
        "catalog_build_s": catalog_s,
        "build_s": index_s + catalog_s,
        "snapshot_pack_s": pack_s,
        "snapshot_bytes": len(snapshot),
        "catalog_bytes": len(catalog_bytes),
        "catalog_from_bytes_s": catalog_load_s,
        "rss_before_build_mb": before,
        "peak_rss_mb": peak,
        "search_products_p50_s": median(search_times),
        "search_products_p95_s": percentile(search_times, 95),
        "search_products_median_total": median(totals),
        "queries": queries,
        "get_product_p50_s": median(get_times),
        "get_product_p95_s": percentile(get_times, 95),
    }


def run(size: int, queries: int) -> dict[str, Any]:
    done = subprocess.run(
        [PYTHON, "-m", "bench.catalog_tools", "--child", "--size", str(size), "--queries", str(queries)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.size, args.queries)))
        return
    result = run(args.size, args.queries)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    else:
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
