"""What the repositories return: one TypedDict per kind of stored item.

TypedDicts rather than dataclasses because an item is a plain dict at run time: the logic layer builds JSON
views from it and composes transaction parts with it, with no conversion at either boundary. The key
attributes (pk, sk and index keys) are part of what is stored and so of what a read returns.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class Conversation(TypedDict):
    """A conversation's META item."""

    pk: str
    sk: str
    id: int
    owner_id: int
    data_set_id: int
    started_at: str
    last_msg_id: int
    owner_pk: NotRequired[str]  # the keys of the by_owner index, removed when a delete starts
    owner_sk: NotRequired[int]
    summary: NotRequired[str]  # the first question (shortened), set with it
    deleting: NotRequired[bool]  # a delete has started: the conversation takes no new question


class Message(TypedDict):
    """One message of a conversation; `sources`, `steps` and `usage` only on agent messages."""

    id: int
    role: str  # user, agent or system (a failed answer's note)
    text: str
    created_at: str
    task_id: NotRequired[str]
    sources: NotRequired[list[dict[str, Any]]]
    steps: NotRequired[list[dict[str, Any]]]
    usage: NotRequired[dict[str, int]]
    error_code: NotRequired[str]  # on a system notice


class DataSet(TypedDict):
    """A data set's META item; `index_key` once a load has built a search index."""

    pk: str
    sk: str
    list_pk: str
    id: int
    name: str
    created_at: str
    created_by: int
    product_count: int
    document_count: int
    index_version: int
    index_key: NotRequired[str]
    answer_settings: NotRequired[dict[str, Any]]
    updated_at: NotRequired[str]


class Task(TypedDict):
    """An answer or a load; the kind decides which of the optional fields it has."""

    task_id: str
    kind: str  # answer, load_products or load_documents
    owner_id: int
    state: str
    created_at: str
    expires_at: int
    attempts: int
    created_epoch: int
    open_pk: NotRequired[str]  # only while unfinished
    conversation_id: NotRequired[int]  # answer
    message_id: NotRequired[int]  # answer: the question's id
    data_set_id: NotRequired[int]  # loads
    payload_key: NotRequired[str]  # loads
    item_count: NotRequired[int]  # loads
    started_at: NotRequired[str]
    finished_at: NotRequired[str]
    requeued_epoch: NotRequired[int]
    error: NotRequired[dict[str, str]]
    result: NotRequired[dict[str, Any]]


class Account(TypedDict):
    """A service account, with the hash of its current token (never the token)."""

    pk: str
    id: int
    name: str
    is_admin: bool
    is_active: bool
    data_set_ids: list[int]
    created_at: str
    token_hash: str


class Connection(TypedDict):
    """A WebSocket connection (with the conversations it follows), or one of its subscriptions."""

    pk: str
    sk: str
    connection_id: str
    account_id: int
    expires_at: int
    conversations: NotRequired[set[int]]
