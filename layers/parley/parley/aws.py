"""boto3 clients, created lazily on first use and reused across invocations.

Every client uses botocore's standard retry mode, so throttling and transient 5xx errors are retried with
backoff before they reach the domain code (unless the caller asks for one attempt and retries itself).
"""

from __future__ import annotations

import threading
from typing import Any

_clients: dict[tuple[str, str | None, int, float, float], Any] = {}  # (service, endpoint, attempts, timeouts)
_session: Any = None
_lock = threading.RLock()  # client() takes it, then session() takes it again


def session() -> Any:
    """The process's boto3 session (its loader parses each service model once per process)."""
    global _session
    if _session is None:
        with _lock:
            if _session is None:
                import boto3

                _session = boto3.session.Session()
    return _session


def client(
    service: str,
    *,
    endpoint_url: str | None = None,
    max_attempts: int = 5,
    connect_timeout: float = 3,
    read_timeout: float = 10,
) -> Any:
    """The process's client for `service` with these settings, created on first use (the one place boto3
    clients are made). `max_attempts` counts the first try: 1 leaves retrying to the caller."""
    key = (service, endpoint_url, max_attempts, connect_timeout, read_timeout)
    existing = _clients.get(key)
    if existing is not None:
        return existing
    with _lock:
        if key not in _clients:
            from botocore.config import Config  # imported here: modules that never call AWS do not pay for it

            config = Config(
                retries={"mode": "standard", "total_max_attempts": max_attempts},
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
            )
            _clients[key] = session().client(service, endpoint_url=endpoint_url, config=config)
        return _clients[key]


def reset_clients() -> None:
    """Drop cached clients (tests swap the emulated AWS between cases)."""
    with _lock:
        _clients.clear()
