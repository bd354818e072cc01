"""How the API writes JSON: compact and UTF-8 (RFC 8259), not ASCII-escaped. An escaped emoji takes 12 bytes
instead of 4, and twice over once Lambda wraps the body in its result envelope."""

from __future__ import annotations

import json
from functools import partial

serialize = partial(json.dumps, separators=(",", ":"), ensure_ascii=False)


def size_of(value: object) -> int:
    """Bytes of `value` as the API sends it."""
    return len(serialize(value).encode("utf-8", "surrogatepass"))
