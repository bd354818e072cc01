"""Settings read from the environment once per process and validated on first use."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


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


@dataclass(frozen=True)
class Settings:
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

    @classmethod
    def from_env(cls) -> Settings:
        missing = [
            name
            for name in (
                "CONVERSATIONS_TABLE",
                "TASKS_TABLE",
                "DATA_SETS_TABLE",
                "ACCOUNTS_TABLE",
                "JOBS_QUEUE_URL",
                "INDEX_BUCKET",
            )
            if not os.environ.get(name)
        ]
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
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()


def reset() -> None:
    """Forget cached settings (tests and the local stack change the environment)."""
    settings.cache_clear()
