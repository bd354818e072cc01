"""Answer engines backed by a language model that calls the catalog tools (see `parley.agent.model_loop`).

Importing this package is cheap; boto3's Bedrock client and httpx load only when a provider is first used.
A final provider failure is a :class:`ProviderError` with a code the worker records on the task; a model
that will not stop asking for tools ends in `StepLimitReached` (code `agent_step_limit`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from parley.agent.contracts import AnswerListener, Tool
from parley.agent.model_loop import DEFAULT_MAX_STEPS, ChatModel, StepLimitReached, run
from parley.engine import Answer, Turn
from parley.prompt import build
from parley.providers.base import ERROR, THROTTLED, TIMEOUT, ProviderError

__all__ = [
    "ERROR",
    "THROTTLED",
    "TIMEOUT",
    "LanguageModelEngine",
    "ProviderError",
    "StepLimitReached",
    "answer_budget_seconds",
    "engine_for_settings",
]


def answer_budget_seconds() -> float:
    """Seconds one answer may spend on model calls, tools and retries (the worker's remaining Lambda time
    bounds it further)."""
    from parley.config import settings

    return settings().answer_budget_seconds


def default_tools() -> list[Tool]:
    from parley.agent.tools import TOOLS  # the catalog agent's tools (issue 11)

    return list(TOOLS)


class LanguageModelEngine:
    """An :class:`~parley.engine.AnswerEngine` that answers with a model calling the data set's tools."""

    def __init__(
        self,
        provider: ChatModel,
        system_prompt: str | None = None,
        *,
        tools: Sequence[Tool] | None = None,
        max_steps: int = DEFAULT_MAX_STEPS,
        budget_seconds: float | None = None,
        not_after: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.provider = provider
        self.system_prompt = system_prompt
        self.tools = tools
        self.max_steps = max_steps
        self.budget_seconds = answer_budget_seconds() if budget_seconds is None else budget_seconds
        self.not_after = not_after  # monotonic time the worker must stop by (its Lambda time)
        self.clock = clock

    @property
    def model(self) -> str:
        return self.provider.model

    def answer(
        self, question: str, history: list[Turn], knowledge: Any, listener: AnswerListener | None = None
    ) -> Answer:
        deadline = self.clock() + self.budget_seconds
        if self.not_after is not None:
            deadline = min(deadline, self.not_after)
        prompt = build(question, history or [], self.system_prompt)
        tools = default_tools() if self.tools is None else list(self.tools)
        return run(
            self.provider,
            prompt.system,
            prompt.messages,
            knowledge,
            tools,
            max_steps=self.max_steps,
            deadline=deadline,
            listener=listener,
            clock=self.clock,
        )


def engine_for_settings(settings: dict[str, Any], not_after: float | None = None) -> LanguageModelEngine:
    """The engine for a data set's stored answer settings (provider `bedrock` or `openai`)."""
    provider_name = settings.get("provider")
    if provider_name == "bedrock":
        from parley.providers.bedrock import BedrockProvider

        provider: ChatModel = BedrockProvider(settings)
    elif provider_name == "openai":
        from parley.providers.openai_compat import OpenAICompatibleProvider

        provider = OpenAICompatibleProvider(settings)
    else:
        raise ValueError(f"no language-model provider {provider_name!r}")
    return LanguageModelEngine(
        provider,
        settings.get("system_prompt"),
        max_steps=settings.get("max_steps") or DEFAULT_MAX_STEPS,
        not_after=not_after,
    )
