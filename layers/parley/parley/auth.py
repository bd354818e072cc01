"""API tokens and the caller's identity.

A token is `prl_<account id>_<43 url-safe characters>` (256 random bits). Only its SHA-256 hash is stored;
carrying the account id lets the authorizer find the account with one GetItem and compare hashes in
constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any, NamedTuple

TOKEN_PREFIX = "prl_"
_TOKEN_RE = re.compile(r"^prl_([1-9][0-9]{0,15})_([A-Za-z0-9_-]{43})$")
_HEADER_RE = re.compile(r"^(?:Token|Bearer)[ ]+(\S+)$", re.IGNORECASE)


def new_token(account_id: int) -> str:
    return f"{TOKEN_PREFIX}{account_id}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hashes_match(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)


def parse_authorization(header: str | None) -> tuple[int, str] | None:
    """(account id, token) from `Token <token>` or `Bearer <token>`; None when malformed."""
    if not header:
        return None
    match = _HEADER_RE.match(header.strip())
    if not match:
        return None
    token = match.group(1)
    token_match = _TOKEN_RE.match(token)
    if not token_match:
        return None
    return int(token_match.group(1)), token


# NamedTuples rather than frozen dataclasses here and in config/idempotency: every API handler defines them on
# its cold start, and a dataclass takes a few times longer to create (it compiles its methods).
class Principal(NamedTuple):
    """Who is calling, as established by the authorizer. Handlers never read identity from the request."""

    account_id: int
    is_admin: bool = False
    data_set_ids: frozenset[int] = frozenset()

    def can_use(self, data_set_id: int) -> bool:
        return self.is_admin or data_set_id in self.data_set_ids

    def to_context(self) -> dict[str, Any]:
        """Authorizer context: flat strings, which every API Gateway flavour passes through unchanged."""
        return {
            "authenticated": "true",
            "account_id": str(self.account_id),
            "is_admin": "true" if self.is_admin else "false",
            "data_set_ids": ",".join(str(i) for i in sorted(self.data_set_ids)),
        }

    @classmethod
    def from_context(cls, context: dict[str, Any] | None) -> Principal | None:
        if not context or str(context.get("authenticated")) != "true":
            return None
        try:
            ids = str(context.get("data_set_ids") or "")
            return cls(
                account_id=int(context["account_id"]),
                is_admin=str(context.get("is_admin")) == "true",
                data_set_ids=frozenset(int(part) for part in ids.split(",") if part),
            )
        except (KeyError, ValueError):
            return None
