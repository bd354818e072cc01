"""Amazon Bedrock through the Converse API (one request shape for Anthropic, Amazon Nova, Meta, Mistral...).

The client is this module's own rather than `parley.aws.client`: botocore's retries would stack under ours
and ignore the answer's deadline, so it makes one attempt per call and `call_with_retries` does the rest.
Authorisation is IAM: the worker may invoke only the models listed in the template's BedrockModelIds.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from parley.prompt import Prompt
from parley.providers.base import ERROR, THROTTLED, TIMEOUT, Completion, ProviderError, call_with_retries

DEFAULT_MAX_TOKENS = 1024
READ_TIMEOUT_SECONDS = 20

_THROTTLED = {"ThrottlingException", "ServiceQuotaExceededException", "TooManyRequestsException"}
_TRANSIENT = {"ServiceUnavailableException", "InternalServerException", "ModelNotReadyException"}
_REASONS = {
    "AccessDeniedException": "access to the Bedrock model was denied; enable model access and list it in "
                             "the BedrockModelIds parameter",
    "ResourceNotFoundException": "the Bedrock model was not found in this region",
    "ValidationException": "Bedrock rejected the request; check the model id and settings",
    "ModelErrorException": "the Bedrock model failed to process the request",
}

_client: Any = None
_lock = threading.Lock()


def default_client() -> Any:
    global _client
    with _lock:
        if _client is None:
            from botocore.config import Config

            from parley import aws

            config = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=3,
                            read_timeout=READ_TIMEOUT_SECONDS)
            _client = aws.session().client("bedrock-runtime", config=config)
        return _client


def map_error(exc: Exception) -> ProviderError:
    """A botocore exception from `converse` as a ProviderError (retryable or final)."""
    from botocore.exceptions import (ClientError, ConnectTimeoutError, EndpointConnectionError,
                                     ReadTimeoutError)

    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _THROTTLED or status == 429:
            return ProviderError(THROTTLED, code, retryable=True)
        if code == "ModelTimeoutException":
            return ProviderError(TIMEOUT, code, retryable=True)
        if code in _TRANSIENT or status >= 500:
            return ProviderError(ERROR, code or f"HTTP {status}", retryable=True)
        return ProviderError(ERROR, _REASONS.get(code, code or f"HTTP {status}"))
    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError)):
        return ProviderError(TIMEOUT, type(exc).__name__, retryable=True)
    if isinstance(exc, EndpointConnectionError):
        return ProviderError(ERROR, "Bedrock could not be reached", retryable=True)
    return ProviderError(ERROR, type(exc).__name__, retryable=True)


class BedrockProvider:
    def __init__(self, settings: dict[str, Any], client: Any = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.model = settings["model"]
        self.temperature = settings.get("temperature")
        self.max_tokens = settings.get("max_tokens") or DEFAULT_MAX_TOKENS
        self._client = client
        self.sleep = sleep

    def request(self, prompt: Prompt) -> dict[str, Any]:
        inference: dict[str, Any] = {"maxTokens": self.max_tokens}
        if self.temperature is not None:
            inference["temperature"] = float(self.temperature)
        return {
            "modelId": self.model,
            "system": [{"text": prompt.system}],
            "messages": [{"role": m["role"], "content": [{"text": m["text"]}]} for m in prompt.messages],
            "inferenceConfig": inference,
        }

    def complete(self, prompt: Prompt, deadline: float) -> Completion:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._client or default_client()
        request = self.request(prompt)

        def attempt(_seconds_left: float) -> dict[str, Any]:
            try:
                return client.converse(**request)
            except (ClientError, BotoCoreError) as exc:
                raise map_error(exc) from None

        response = call_with_retries(attempt, deadline, sleep=self.sleep,
                                     what={"provider": "bedrock", "model": self.model})
        content = ((response.get("output") or {}).get("message") or {}).get("content") or []
        text = "".join(block.get("text", "") for block in content).strip()
        if not text:
            raise ProviderError(ERROR, f"the model returned no text (stop reason {response.get('stopReason')})")
        usage = response.get("usage") or {}
        return Completion(text, int(usage.get("inputTokens") or 0), int(usage.get("outputTokens") or 0))
