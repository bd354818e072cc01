"""OpenAI-compatible Chat Completions (`POST {base_url}/chat/completions`): OpenAI, Azure OpenAI's v1 API,
Ollama, vLLM, LM Studio and other servers that speak the same protocol.

The key is sent only in the Authorization header and never logged; logs name the server's host and the
model. Redirects are not followed, so the key cannot be forwarded to another host.
"""

from __future__ import annotations

import email.utils
import threading
import time
from typing import Any, Callable
from urllib.parse import urlsplit

from parley import egress
from parley.prompt import Prompt
from parley.providers import secrets
from parley.providers.base import ERROR, THROTTLED, TIMEOUT, Completion, ProviderError, call_with_retries

DEFAULT_MAX_TOKENS = 1024
CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 15.0

_client: Any = None
_lock = threading.Lock()


def default_client() -> Any:
    global _client
    with _lock:
        if _client is None:
            import httpx  # only workers answering with an OpenAI-compatible server load it

            _client = httpx.Client(follow_redirects=False)
        return _client


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) as seconds from now."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def map_status(status: int, retry_after: str | None) -> ProviderError:
    if status == 429:
        return ProviderError(THROTTLED, "HTTP 429", retryable=True, retry_after=retry_after_seconds(retry_after))
    if status == 408:
        return ProviderError(TIMEOUT, "HTTP 408", retryable=True)
    if status >= 500:
        return ProviderError(ERROR, f"HTTP {status}", retryable=True, retry_after=retry_after_seconds(retry_after))
    if status in (401, 403):
        return ProviderError(ERROR, f"HTTP {status}: the server refused the API key")
    if status == 404:
        return ProviderError(ERROR, "HTTP 404: check the base_url and the model name")
    return ProviderError(ERROR, f"HTTP {status}")


class OpenAICompatibleProvider:
    def __init__(self, settings: dict[str, Any], client: Any = None, sleep: Callable[[float], None] = time.sleep,
                 connect_timeout: float = CONNECT_TIMEOUT_SECONDS, read_timeout: float = READ_TIMEOUT_SECONDS):
        self.model = settings["model"]
        self.base_url = settings["base_url"].rstrip("/")
        self.api_key_secret = settings["api_key_secret"]
        self.temperature = settings.get("temperature")
        self.max_tokens = settings.get("max_tokens") or DEFAULT_MAX_TOKENS
        self._client = client
        self.sleep = sleep
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout

    def body(self, prompt: Prompt) -> dict[str, Any]:
        messages = [{"role": "system", "content": prompt.system}]
        messages += [{"role": m["role"], "content": m["text"]} for m in prompt.messages]
        body: dict[str, Any] = {"model": self.model, "messages": messages, "max_tokens": self.max_tokens}
        if self.temperature is not None:
            body["temperature"] = float(self.temperature)
        return body

    def complete(self, prompt: Prompt, deadline: float) -> Completion:
        import httpx

        client = self._client or default_client()
        headers = {"Authorization": f"Bearer {secrets.api_key(self.api_key_secret)}"}
        url = f"{self.base_url}/chat/completions"
        body = self.body(prompt)
        what = {"provider": "openai", "host": urlsplit(self.base_url).hostname, "model": self.model}

        def attempt(seconds_left: float) -> Any:
            read = min(self.read_timeout, seconds_left)
            timeout = httpx.Timeout(read, connect=min(self.connect_timeout, read))
            try:
                target = egress.connect_target(url)  # checked again now: the settings may predate the policy
            except egress.EgressRefused as refused:
                raise ProviderError(ERROR, f"the base_url is not allowed: {refused}") from None
            except OSError as exc:
                raise ProviderError(ERROR, str(exc), retryable=True) from None
            try:
                response = client.post(target.url, json=body, headers={**headers, **target.headers},
                                       extensions=target.extensions, timeout=timeout)
            except httpx.TimeoutException as exc:
                raise ProviderError(TIMEOUT, type(exc).__name__, retryable=True) from None
            except httpx.HTTPError as exc:
                raise ProviderError(ERROR, f"the server could not be reached ({type(exc).__name__})",
                                    retryable=True) from None
            if response.status_code >= 300:  # redirects are not followed (they would carry the key)
                raise map_status(response.status_code, response.headers.get("retry-after"))
            return response

        response = call_with_retries(attempt, deadline, sleep=self.sleep, what=what)
        try:
            data = response.json()
            text = (data["choices"][0]["message"].get("content") or "").strip()
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise ProviderError(ERROR, "the server's reply is not a chat completion") from None
        if not text:
            raise ProviderError(ERROR, "the model returned no text")
        usage = data.get("usage") or {}
        return Completion(text, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
