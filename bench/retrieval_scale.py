"""5. Retrieval at scale: synthetic catalogs (products + documents chunked by the index) of 1k, 10k and 100k
products through `parley.retrieval.SearchIndex`, each size in fresh interpreters: build of the index and the typed
catalog beside it, as a load does (with peak RSS),
snapshot size, query p50/p95, cold load (`from_bytes` in a new process), and the same corpus and queries
through `rank_bm25.BM25Okapi` (same tokens) with the top-5 overlap."""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import PYTHON, ROOT, median, percentile

COMMON = (
    "fiber internet plan router price month contract speed download upload business home support "
    "install mobile data tv channel service customer network fast unlimited wifi mesh family"
).split()


def _vocabulary(rng: random.Random, size: int = 30_000) -> list[str]:
    syllables = ["ka", "lo", "mi", "ren", "to", "vas", "qui", "dor", "bel", "sun", "tra", "pex", "ol", "ny", "zu"]
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def _zipf_words(rng: random.Random, vocab: list[str], n: int) -> list[str]:
    # Zipf-like: a few words are very common, most are rare (like a real catalog)
    return [
        vocab[min(len(vocab) - 1, int(rng.paretovariate(1.1)) - 1)] if rng.random() < 0.7 else rng.choice(vocab)
        for _ in range(n)
    ]


def catalog(products: int, seed: int = 11) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    vocab = _vocabulary(rng)
    rng.shuffle(vocab)
    out_products = []
    for i in range(products):
        words = _zipf_words(rng, vocab, 30) + rng.sample(COMMON, 6)
        out_products.append(
            {
                "sku": f"P{i:07d}",
                "name": " ".join([*_zipf_words(rng, vocab, 2), rng.choice(COMMON)]).title(),
                "description": " ".join(words) + ".",
                "properties": {"speed_mbps": rng.choice([100, 300, 500, 1000]), "color": rng.choice(vocab[:50])},
                "categories": [rng.choice(COMMON)],
                "price": round(rng.uniform(5, 500), 2),
            }
        )
    documents = []
    for d in range(max(1, products // 100)):
        sentences = [
            " ".join(_zipf_words(rng, vocab, 12) + rng.sample(COMMON, 3)).capitalize() + "." for _ in range(60)
        ]
        documents.append(
            {
                "key": f"doc-{d}",
                "title": " ".join(_zipf_words(rng, vocab, 3)).title(),
                "url": f"https://example.test/doc/{d}",
                "content": " ".join(sentences),
            }
        )
    return out_products, documents


def queries(products: list[dict], count: int, seed: int = 5) -> list[str]:
    """Half: words of one product's name and description (a customer asking about it); a quarter: common
    words only (the worst case: long posting lists); a quarter: a product's rare words plus common ones."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        product = rng.choice(products)
        words = product["description"].rstrip(".").split()
        if i % 4 == 1:
            out.append("what is the price of a " + " ".join(rng.sample(COMMON, 3)) + " plan")
        elif i % 4 == 3:
            out.append(" ".join(rng.sample(words[:30], 2) + rng.sample(COMMON, 3)))
        else:
            out.append("does " + product["name"] + " have " + " ".join(rng.sample(words, 3)))
    return out


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_build(size: int, workdir: Path, query_count: int) -> dict[str, Any]:
    from parley.agent.catalog import Catalog
    from parley.retrieval import SearchIndex

    products, documents = catalog(size)
    before = _rss_mb()
    started = time.perf_counter()
    index = SearchIndex.build(products, documents)
    index_build_s = time.perf_counter() - started
    started = time.perf_counter()
    typed_catalog = Catalog.build(products)  # a load builds the typed catalog beside the index
    catalog_build_s = time.perf_counter() - started
    build_s = index_build_s + catalog_build_s
    started = time.perf_counter()
    snapshot = index.to_bytes()
    catalog_bytes = len(typed_catalog.to_bytes())
    to_bytes_s = time.perf_counter() - started
    (workdir / f"index-{size}.bin").write_bytes(snapshot)
    qs = queries(products, query_count)
    timings, tops = [], []
    for q in qs:
        started = time.perf_counter()
        hits = index.search(q, 5)
        timings.append(time.perf_counter() - started)
        tops.append([f"{r.type}:{r.id}:{r.text[:40]}" for r, _ in hits])
    (workdir / f"tops-{size}.json").write_text(json.dumps({"queries": qs, "tops": tops}))
    return {
        "records": len(index),
        "vocabulary": index.vocabulary_size,
        "build_s": build_s,
        "index_build_s": index_build_s,
        "catalog_build_s": catalog_build_s,
        "catalog_snapshot_bytes": catalog_bytes,
        "to_bytes_s": to_bytes_s,
        "snapshot_bytes": len(snapshot),
        "query_p50_s": median(timings),
        "query_p95_s": percentile(timings, 95),
        "query_max_s": max(timings),
        "queries": len(qs),
        "rss_before_build_mb": before,
        "peak_rss_mb": _rss_mb(),
    }


def child_load(size: int, workdir: Path) -> dict[str, Any]:
    data = (workdir / f"index-{size}.bin").read_bytes()
    started = time.perf_counter()
    from parley.retrieval import SearchIndex

    imported = time.perf_counter()
    index = SearchIndex.from_bytes(data)
    loaded = time.perf_counter()
    index.search("price of the fast fiber plan", 5)
    return {
        "import_s": imported - started,
        "from_bytes_s": loaded - imported,
        "first_query_s": time.perf_counter() - loaded,
        "peak_rss_mb": _rss_mb(),
    }


def child_rank_bm25(size: int, workdir: Path, query_limit: int) -> dict[str, Any]:
    from rank_bm25 import BM25Okapi

    from parley import retrieval

    products, documents = catalog(size)
    items = [retrieval._product_record(p) for p in products]
    for doc in documents:
        items.extend(retrieval._document_records(doc))
    records = [r for r, _ in items]
    started = time.perf_counter()
    bm25 = BM25Okapi([tokens for _, tokens in items], k1=retrieval.K1, b=retrieval.B)
    build_s = time.perf_counter() - started
    saved = json.loads((workdir / f"tops-{size}.json").read_text())
    timings, overlaps = [], []
    for q, ours in list(zip(saved["queries"], saved["tops"]))[:query_limit]:
        started = time.perf_counter()
        scores = bm25.get_scores(retrieval.tokenize(q))
        best = (
            sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:5]
            if len(scores) < 5000
            else [
                int(i) for i in sorted(__import__("numpy").argpartition(-scores, 5)[:5], key=lambda i: (-scores[i], i))
            ]
        )
        timings.append(time.perf_counter() - started)
        theirs = [f"{records[i].type}:{records[i].id}:{records[i].text[:40]}" for i in best if scores[i] > 0]
        if ours or theirs:
            overlaps.append(len(set(ours) & set(theirs)) / max(1, min(5, max(len(ours), len(theirs)))))
    return {
        "build_s": build_s,
        "query_p50_s": median(timings),
        "query_p95_s": percentile(timings, 95),
        "queries": len(timings),
        "top5_overlap": sum(overlaps) / max(1, len(overlaps)),
        "peak_rss_mb": _rss_mb(),
    }


def _child(args: list[str]) -> dict[str, Any]:
    done = subprocess.run(
        [PYTHON, "-m", "bench.retrieval_scale", *args], capture_output=True, text=True, cwd=ROOT, timeout=600
    )
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(sizes: list[int], query_count: int = 200, bm25_queries: int = 40) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="parley-retrieval-"))
    out = {}
    for size in sizes:
        built = _child(["--child", "build", "--size", str(size), "--dir", str(workdir), "--queries", str(query_count)])
        loads = [_child(["--child", "load", "--size", str(size), "--dir", str(workdir)]) for _ in range(3)]
        reference = _child(
            ["--child", "bm25", "--size", str(size), "--dir", str(workdir), "--queries", str(bm25_queries)]
        )
        out[str(size)] = {
            "parley": built,
            "cold_load": {
                "from_bytes_s": median([load["from_bytes_s"] for load in loads]),
                "import_s": median([load["import_s"] for load in loads]),
                "first_query_s": median([load["first_query_s"] for load in loads]),
                "peak_rss_mb": max(load["peak_rss_mb"] for load in loads),
            },
            "rank_bm25": reference,
            "query_speedup_vs_rank_bm25": reference["query_p50_s"] / built["query_p50_s"],
        }
        (workdir / f"index-{size}.bin").unlink()
    return {"sizes": out}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=["build", "load", "bm25"])
    parser.add_argument("--size", type=int)
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.child == "build":
        print(json.dumps(child_build(args.size, args.dir, args.queries)))
    elif args.child == "load":
        print(json.dumps(child_load(args.size, args.dir)))
    elif args.child == "bm25":
        print(json.dumps(child_rank_bm25(args.size, args.dir, args.queries)))
    else:
        result = run([int(s) for s in args.sizes.split(",")])
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=1)


if __name__ == "__main__":
    sys.exit(main())
