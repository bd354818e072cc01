"""boto3 clients, created lazily on first use and reused across invocations.

Every client uses botocore's standard retry mode, so throttling and transient 5xx errors are retried with
backoff before they reach the domain code.
"""

from __future__ import annotations

import threading
from typing import Any

_clients: dict[str, Any] = {}
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


def client(service: str) -> Any:
    existing = _clients.get(service)
    if existing is not None:
        return existing
    with _lock:
        if service not in _clients:
            from botocore.config import Config  # imported here: modules that never call AWS do not pay for it

            config = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)
            _clients[service] = session().client(service, config=config)
        return _clients[service]


def reset_clients() -> None:
    """Drop cached clients (tests swap the emulated AWS between cases)."""
    with _lock:
        _clients.clear()
