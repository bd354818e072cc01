"""The fictional FiberUP sample data set (products and documents)."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["load_sample", "PRODUCTS_FILE", "DOCUMENTS_FILE"]

_HERE = Path(__file__).resolve().parent
PRODUCTS_FILE = _HERE / "fiberup_products.jsonl"
DOCUMENTS_FILE = _HERE / "fiberup_documents.jsonl"


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def load_sample() -> tuple[list[dict], list[dict]]:
    """Return ``(products, documents)`` of the FiberUP sample data set."""
    return _read_jsonl(PRODUCTS_FILE), _read_jsonl(DOCUMENTS_FILE)
