"""6. Retrieval quality: recall@k (and MRR) of `SearchIndex` over the FiberUP sample on the labelled
questions in tests/fixtures/fiberup_questions.jsonl (a hit = the expected product or document among the
top k records)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.common import ROOT

QUESTIONS = ROOT / "tests" / "fixtures" / "fiberup_questions.jsonl"


def run(k: int = 5, path: Path = QUESTIONS) -> dict[str, Any]:
    from parley.retrieval import SearchIndex
    from parley_local.samples import load_sample

    products, documents = load_sample()
    index = SearchIndex.build(products, [{**d, "key": d.get("key") or d.get("url") or d["title"]} for d in documents])
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    hits, reciprocal, misses = 0, 0.0, []
    for row in rows:
        expected = (row["expected"]["type"], row["expected"]["id"])
        found = [(r.type, r.id) for r, _ in index.search(row["question"], k)]
        if expected in found:
            hits += 1
            reciprocal += 1 / (found.index(expected) + 1)
        else:
            misses.append({"question": row["question"], "expected": expected[1], "got": [f[1] for f in found[:3]]})
    return {"questions": len(rows), "k": k, "recall": hits / len(rows), "mrr": reciprocal / len(rows), "misses": misses}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--out")
    args = parser.parse_args()
    result = run(args.k)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    else:
        print(f"recall@{args.k} = {result['recall']:.3f} ({result['questions']} questions), MRR {result['mrr']:.3f}")
        for miss in result["misses"]:
            print("  miss:", miss)


if __name__ == "__main__":
    main()
