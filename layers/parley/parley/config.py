"""Settings read from the environment once per process and validated on first use.

The one place the code reads its environment variables (the local secret store aside, whose secrets are
variables named by the data set's settings): a new setting is a field here."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import NamedTuple


class ConfigurationError(RuntimeError):
    """A required environment variable is missing or invalid (a deployment mistake, never a client one)."""


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from exc


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from exc


# The stack's resource names: every function gets them (template.yaml's Globals), so none may be missing.
REQUIRED = ("CONVERSATIONS_TABLE", "TASKS_TABLE", "DATA_SETS_TABLE", "ACCOUNTS_TABLE", "JOBS_QUEUE_URL", "INDEX_BUCKET")


class Settings(NamedTuple):  # immutable; cheaper to define than a frozen dataclass (see parley.auth)
    conversations_table: str
    tasks_table: str
    data_sets_table: str
    accounts_table: str
    jobs_queue_url: str
    index_bucket: str
    task_ttl_days: int
    max_tries: int
    max_body_bytes: int
    connections_table: str = ""  # streaming (WebSocket) connections; only the streaming code reads it
    websocket_endpoint: str = ""  # the WebSocket stage's @connections endpoint; empty: nothing is streamed
    secrets_backend: str = "aws"  # "aws" (Secrets Manager, names under parley/) or "env" (locally: variables)
    answer_budget_seconds: float = 20.0  # a model answer's time, retries included (the worker's)
    sweep_after_seconds: int = 900  # age of an unfinished task the sweeper re-enqueues (twice that: FAILURE)
    knowledge_cache_bytes: int = 256 * 1024 * 1024  # the worker's in-memory knowledge snapshots
    provider_http_hosts: str = ""  # comma-separated hosts a provider may reach over plain http / privately
    secrets_prefix: str = "parley/"  # every API-key secret of this stack is named under it (`<stack name>/`)

    @classmethod
    def from_env(cls) -> Settings:
        missing = [name for name in REQUIRED if not os.environ.get(name)]
        if missing:
            raise ConfigurationError(f"missing environment variables: {', '.join(missing)}")
        return cls(
            conversations_table=os.environ["CONVERSATIONS_TABLE"],
            tasks_table=os.environ["TASKS_TABLE"],
            data_sets_table=os.environ["DATA_SETS_TABLE"],
            accounts_table=os.environ["ACCOUNTS_TABLE"],
            jobs_queue_url=os.environ["JOBS_QUEUE_URL"],
            index_bucket=os.environ["INDEX_BUCKET"],
            task_ttl_days=_int("TASK_TTL_DAYS", 7),
            max_tries=_int("JOB_MAX_TRIES", 3),
            max_body_bytes=_int("MAX_BODY_BYTES", 1024 * 1024),
            connections_table=os.environ.get("CONNECTIONS_TABLE", ""),
            websocket_endpoint=os.environ.get("WEBSOCKET_ENDPOINT", ""),
            secrets_backend=os.environ.get("PARLEY_SECRETS_BACKEND") or "aws",
            provider_http_hosts=os.environ.get("PROVIDER_HTTP_HOSTS") or "",
            secrets_prefix=os.environ.get("SECRETS_PREFIX") or "parley/",
            answer_budget_seconds=_float("WORKER_ANSWER_BUDGET_SECONDS", 20.0),
            sweep_after_seconds=_int("SWEEP_AFTER_SECONDS", 900),
            knowledge_cache_bytes=_int("KNOWLEDGE_CACHE_BYTES", 256 * 1024 * 1024),
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()


def reset() -> None:
    """Forget cached settings (tests and the local stack change the environment)."""
    settings.cache_clear()
