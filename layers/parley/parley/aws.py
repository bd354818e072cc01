"""boto3 clients, created lazily on first use and reused across invocations.

Every client uses botocore's standard retry mode, so throttling and transient 5xx errors are retried with
backoff before they reach the domain code.
"""

from __future__ import annotations

import threading
from typing import Any

_clients: dict[str, Any] = {}
_lock = threading.Lock()


def client(service: str) -> Any:
    existing = _clients.get(service)
    if existing is not None:
        return existing
    with _lock:
        if service not in _clients:
            import boto3  # imported here so that modules which never call AWS do not pay for it
            from botocore.config import Config

            config = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)
            _clients[service] = boto3.session.Session().client(service, config=config)
        return _clients[service]


def reset_clients() -> None:
    """Drop cached clients (tests swap the emulated AWS between cases)."""
    with _lock:
        _clients.clear()
