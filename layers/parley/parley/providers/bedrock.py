"""Amazon Bedrock through the Converse API (one request shape for Anthropic, Amazon Nova, Meta, Mistral...).

Tools are offered in `toolConfig` (toolSpec with the JSON Schema in inputSchema.json); the model's `toolUse`
blocks come back as tool calls and their results go back as `toolResult` blocks (status `error` for a bad
argument or a failed tool), their content as JSON text, which every tool-capable model accepts. With a
listener the call is `converse_stream`, and text deltas are passed on as they arrive.

The client makes one attempt per call (`max_attempts=1`): botocore's retries would stack under ours and
ignore the answer's deadline, so `call_with_retries` does the retrying.
Authorisation is IAM: the worker may invoke only the models listed in the template's BedrockModelIds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from parley.agent.contracts import Tool
from parley.agent.model_loop import ModelReply, ToolCall, decoded_arguments
from parley.providers.base import ERROR, THROTTLED, TIMEOUT, ProviderError, call_with_retries

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


def default_client() -> Any:
    from parley import aws

    return aws.client("bedrock-runtime", max_attempts=1, read_timeout=READ_TIMEOUT_SECONDS)


def map_error(exc: Exception) -> ProviderError:
    """A botocore exception from `converse` as a ProviderError (retryable or final)."""
    from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

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


def _content(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A neutral conversation message (see `parley.agent.model_loop`) as Converse content blocks."""
    if message["role"] == "tool":
        return [
            {
                "toolResult": {
                    "toolUseId": outcome.call.id,
                    "content": [{"text": json.dumps(outcome.content, ensure_ascii=False, default=str)}],
                    **({"status": "error"} if outcome.error else {}),
                }
            }
            for outcome in message["results"]
        ]
    blocks: list[dict[str, Any]] = [{"text": message["text"]}] if message.get("text") else []
    for call in message.get("calls") or []:
        arguments = call.arguments if isinstance(call.arguments, dict) else {}
        blocks.append({"toolUse": {"toolUseId": call.id, "name": call.name, "input": arguments}})
    return blocks


class BedrockProvider:
    def __init__(self, settings: dict[str, Any], client: Any = None, sleep: Callable[[float], None] = time.sleep):
        self.model = settings["model"]
        self.temperature = settings.get("temperature")
        self.max_tokens = settings.get("max_tokens") or DEFAULT_MAX_TOKENS
        self._client = client
        self.sleep = sleep

    def request(self, system: str, messages: list[dict[str, Any]], tools: Sequence[Tool] | None) -> dict[str, Any]:
        inference: dict[str, Any] = {"maxTokens": self.max_tokens}
        if self.temperature is not None:
            inference["temperature"] = float(self.temperature)
        request: dict[str, Any] = {
            "modelId": self.model,
            "system": [{"text": system}],
            "messages": [
                {"role": "user" if m["role"] == "tool" else m["role"], "content": _content(m)} for m in messages
            ],
            "inferenceConfig": inference,
        }
        if tools:
            request["toolConfig"] = {
                "tools": [
                    {
                        "toolSpec": {
                            "name": tool.name,
                            "description": tool.description,
                            "inputSchema": {"json": tool.input_schema},
                        }
                    }
                    for tool in tools
                ],
                "toolChoice": {"auto": {}},
            }
        return request

    def reply(
        self,
        system: str,
        messages: list[dict[str, Any]],
        tools: Sequence[Tool] | None,
        deadline: float,
        on_text: Callable[[str], None] | None = None,
    ) -> ModelReply:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._client or default_client()
        request = self.request(system, messages, tools)
        streamed: list[bool] = []  # a retry after text went out would repeat it to the listener

        def attempt(_seconds_left: float) -> ModelReply:
            try:
                if on_text is None:
                    return self._parse(client.converse(**request))
                return self._read_stream(client.converse_stream(**request)["stream"], on_text, streamed)
            except (ClientError, BotoCoreError) as exc:
                error = map_error(exc)
                error.retryable = error.retryable and not streamed
                raise error from None

        return call_with_retries(attempt, deadline, sleep=self.sleep, what={"provider": "bedrock", "model": self.model})

    @staticmethod
    def _parse(response: dict[str, Any]) -> ModelReply:
        content = ((response.get("output") or {}).get("message") or {}).get("content") or []
        text = "".join(block.get("text", "") for block in content)
        calls = [
            ToolCall(
                block["toolUse"].get("toolUseId", ""),
                block["toolUse"].get("name", ""),
                block["toolUse"].get("input", {}),
            )
            for block in content
            if "toolUse" in block
        ]
        usage = response.get("usage") or {}
        return ModelReply(text.strip(), calls, int(usage.get("inputTokens") or 0), int(usage.get("outputTokens") or 0))

    @staticmethod
    def _read_stream(stream: Any, on_text: Callable[[str], None], streamed: list[bool]) -> ModelReply:
        text: list[str] = []
        calls: dict[int, list[str]] = {}  # content block index -> [id, name, input text]
        usage: dict[str, Any] = {}
        for event in stream:
            if "contentBlockStart" in event:
                start = event["contentBlockStart"]
                tool_use = (start.get("start") or {}).get("toolUse")
                if tool_use:
                    calls[start.get("contentBlockIndex", 0)] = [
                        tool_use.get("toolUseId", ""),
                        tool_use.get("name", ""),
                        "",
                    ]
            elif "contentBlockDelta" in event:
                block = event["contentBlockDelta"]
                delta = block.get("delta") or {}
                if delta.get("text"):
                    text.append(delta["text"])
                    streamed.append(True)
                    on_text(delta["text"])
                elif "toolUse" in delta:
                    calls.setdefault(block.get("contentBlockIndex", 0), ["", "", ""])[2] += delta["toolUse"].get(
                        "input", ""
                    )
            elif "metadata" in event:
                usage = event["metadata"].get("usage") or {}
        found = [ToolCall(call_id, name, decoded_arguments(raw)) for _, (call_id, name, raw) in sorted(calls.items())]
        return ModelReply(
            "".join(text).strip(), found, int(usage.get("inputTokens") or 0), int(usage.get("outputTokens") or 0)
        )
