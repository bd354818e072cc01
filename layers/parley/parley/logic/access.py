"""The admin rule, in one place: every admin-only operation of the logic layer checks its caller here."""

from __future__ import annotations

from parley.auth import Principal
from parley.errors import Forbidden

# Whoever works on the tables with the stack's own AWS access (the local stack's seed, `parley accounts
# --direct` bootstrapping the first admin): an admin, though no API caller.
OPERATOR = Principal(account_id=0, is_admin=True)


def require_admin(caller: Principal, what: str) -> None:
    """Forbidden unless the caller is an admin; `what` names what only admins manage, for the message."""
    if not caller.is_admin:
        raise Forbidden(f"Only admin accounts may manage {what}.")
