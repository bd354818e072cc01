"""Service accounts: creation, listing, updates, token resets, and token checks for the authorizer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parley.auth import Principal, hash_token, hashes_match, new_token, parse_authorization
from parley.dal.accounts import AccountRepository
from parley.dal.data_sets import DataSetRepository
from parley.errors import NotFound, Unprocessable
from parley.logic.access import require_admin

if TYPE_CHECKING:
    from parley.dal.entities import Account


def view(item: Account) -> dict[str, Any]:
    return {
        "id": item["id"],
        "name": item["name"],
        "is_admin": item.get("is_admin", False),
        "is_active": item.get("is_active", True),
        "data_set_ids": item.get("data_set_ids", []),
        "created_at": item.get("created_at"),
    }


def _check_data_sets(data_set_ids: list[int]) -> None:
    known = {item["id"] for item in DataSetRepository().get_many(data_set_ids)}
    unknown = sorted(set(data_set_ids) - known)
    if unknown:
        raise Unprocessable(f"unknown data set ids: {unknown}")


SERVICE_ACCOUNTS = "service accounts"


def create(
    caller: Principal, name: str, data_set_ids: list[int], is_admin: bool, token: str | None = None
) -> dict[str, Any]:
    """Create an account; the token is returned here once and only its hash is stored.

    `token` lets `make dev` keep a fixed developer token (PARLEY_DEV_TOKEN); it must have our format.
    """
    require_admin(caller, SERVICE_ACCOUNTS)
    _check_data_sets(data_set_ids)
    repo = AccountRepository()
    if token is not None:
        parsed = parse_authorization(f"Token {token}")
        if parsed is None:
            raise ValueError("the token must look like prl_<account id>_<43 characters>")
        account_id = parsed[0]
        repo.reserve_id(account_id)
    else:
        account_id = repo.next_id()
        token = new_token(account_id)
    item = repo.create(account_id, name, is_admin, data_set_ids, hash_token(token))
    return {**view(item), "token": token}


def list_page(caller: Principal, limit: int, cursor: int | None) -> dict[str, Any]:
    require_admin(caller, SERVICE_ACCOUNTS)
    items, next_cursor = AccountRepository().list(limit, cursor)
    return {"results": [view(i) for i in items], "next_cursor": None if next_cursor is None else str(next_cursor)}


def update(caller: Principal, account_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    require_admin(caller, SERVICE_ACCOUNTS)
    if "data_set_ids" in changes:
        changes["data_set_ids"] = sorted(set(changes["data_set_ids"]))
        _check_data_sets(changes["data_set_ids"])
    item = AccountRepository().update(account_id, changes)
    if item is None:
        raise NotFound("service account not found")
    return view(item)


def reset_token(caller: Principal, account_id: int) -> dict[str, Any]:
    require_admin(caller, SERVICE_ACCOUNTS)
    token = new_token(account_id)
    item = AccountRepository().update(account_id, {"token_hash": hash_token(token)})
    if item is None:
        raise NotFound("service account not found")
    return {**view(item), "token": token}


def authenticate(authorization: str | None) -> Principal | None:
    """The caller for an Authorization header, or None for a malformed, unknown or disabled token."""
    parsed = parse_authorization(authorization)
    if parsed is None:
        return None
    account_id, token = parsed
    account = AccountRepository().get(account_id)
    if not account or not account.get("is_active", False) or not hashes_match(token, account.get("token_hash", "")):
        return None
    return Principal(
        account_id=account_id,
        is_admin=bool(account.get("is_admin")),
        data_set_ids=frozenset(int(i) for i in account.get("data_set_ids", [])),
    )
