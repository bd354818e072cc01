"""API keys for OpenAI-compatible servers, by secret name.

`PARLEY_SECRETS_BACKEND=aws` (the default) reads AWS Secrets Manager and keeps each value for a few minutes
per worker instance (a rotated key is picked up without a redeploy). `PARLEY_SECRETS_BACKEND=env` reads the
environment variable of that name instead (the local stack, where there is no Secrets Manager to fill).
A secret may hold the key itself or a JSON object with an `api_key` field.
"""

from __future__ import annotations

import json
import os
import threading
import time

from parley import aws, egress
from parley.config import settings
from parley.providers.base import ERROR, ProviderError

CACHE_SECONDS = 300
_cache: dict[str, tuple[float, str]] = {}
_lock = threading.Lock()


def backend() -> str:
    return settings().secrets_backend


def api_key(name: str) -> str:
    if backend() == "env":
        value = os.environ.get(name, "").strip()
        if not value:
            raise ProviderError(ERROR, f"the API key variable {name} is not set")
        return value
    try:
        egress.check_secret_name(name)  # settings saved before the stack's prefix was enforced
    except egress.EgressRefused as refused:
        raise ProviderError(ERROR, f"the API key secret {name} {refused}") from None
    with _lock:
        cached = _cache.get(name)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
    value = _from_secrets_manager(name)
    with _lock:
        _cache[name] = (time.monotonic(), value)
    return value


def _from_secrets_manager(name: str) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = aws.client("secretsmanager").get_secret_value(SecretId=name)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        # botocore has already retried throttling and 5xx; what is left of those may pass on redelivery
        transient = code in ("ThrottlingException", "InternalServiceError")
        raise ProviderError(
            ERROR, f"the API key secret {name} could not be read ({code})", retryable=transient
        ) from None
    except BotoCoreError:
        raise ProviderError(ERROR, "the API key secret could not be read", retryable=True) from None
    raw = (response.get("SecretString") or "").strip()
    if raw.startswith("{"):
        try:
            raw = str(json.loads(raw).get("api_key") or "").strip()
        except ValueError:
            raw = ""
    if not raw:
        raise ProviderError(ERROR, f"the API key secret {name} is empty")
    return raw


def clear_cache() -> None:
    with _lock:
        _cache.clear()
