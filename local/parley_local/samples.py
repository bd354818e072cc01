"""The fictional FiberUP sample data set (products and documents) in samples/fiberup/: the local stack loads it
at start, and the bench and tests read it. It is not part of any Lambda package."""

from __future__ import annotations

import json
from pathlib import Path

from parley_local.template import ROOT

__all__ = ["DOCUMENTS_FILE", "PRODUCTS_FILE", "load_sample"]

SAMPLE_DIR = ROOT / "samples" / "fiberup"
PRODUCTS_FILE = SAMPLE_DIR / "products.jsonl"
DOCUMENTS_FILE = SAMPLE_DIR / "documents.jsonl"


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_sample() -> tuple[list[dict], list[dict]]:
    """Return ``(products, documents)`` of the FiberUP sample data set."""
    return _read_jsonl(PRODUCTS_FILE), _read_jsonl(DOCUMENTS_FILE)
