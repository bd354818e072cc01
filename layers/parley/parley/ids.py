"""Identifiers and timestamps.

Conversation and message ids are time-ordered 53-bit integers (exact in JavaScript): milliseconds since
2025-01-01 in the high bits and random bits below. No counter item is involved, so creating conversations
scales with the table rather than with one hot key; collisions are caught by conditional writes.
"""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import UTC, datetime

EPOCH_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
RANDOM_BITS = 11
MAX_SAFE_INTEGER = 2**53 - 1


def time_ordered_id(now_ms: int | None = None) -> int:
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    return ((now_ms - EPOCH_MS) << RANDOM_BITS) | secrets.randbits(RANDOM_BITS)


def user_message_id(after: int = 0) -> int:
    """An even id greater than `after`; the agent's reply to it takes the odd id just above."""
    candidate = time_ordered_id() & ~1
    if candidate <= after:
        candidate = (after + 2) & ~1
    return candidate


def new_task_id() -> str:
    return str(uuid.uuid4())


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """UTC timestamp with a `Z`, to the second, as in the contract (2025-03-20T10:00:00Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso() -> str:
    return iso(utc_now())
