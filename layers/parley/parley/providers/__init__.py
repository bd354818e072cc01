"""Answer engines backed by a language model: retrieve, assemble the prompt, ask the provider.

Importing this package is cheap; boto3's Bedrock client and httpx load only when a provider is first used.
A final provider failure is a :class:`ProviderError` with a code the worker records on the task.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Protocol

from parley.engine import Answer, Turn
from parley.prompt import Prompt, build, usable_turns
from parley.providers.base import ERROR, THROTTLED, TIMEOUT, Completion, ProviderError
from parley.retrieval import Record, SearchIndex, tokenize

__all__ = ["LanguageModelEngine", "ProviderError", "Completion", "engine_for_settings", "answer_budget_seconds",
           "ERROR", "THROTTLED", "TIMEOUT"]

RETRIEVED_ITEMS = 6
PREVIOUS_QUESTION_WEIGHT = 0.5   # follow-ups ("how much is it?") also search with the question before


class Provider(Protocol):
    model: str

    def complete(self, prompt: Prompt, deadline: float) -> Completion: ...


def answer_budget_seconds() -> float:
    """Seconds one answer may spend on provider calls and retries (the worker's Lambda timeout is above it)."""
    try:
        return float(os.environ.get("WORKER_ANSWER_BUDGET_SECONDS") or 20)
    except ValueError:
        return 20.0


class LanguageModelEngine:
    """An :class:`~parley.engine.AnswerEngine` that answers with a model, grounded in the data set's index."""

    def __init__(self, provider: Provider, system_prompt: str | None = None, k: int = RETRIEVED_ITEMS,
                 budget_seconds: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.provider = provider
        self.system_prompt = system_prompt
        self.k = k
        self.budget_seconds = answer_budget_seconds() if budget_seconds is None else budget_seconds
        self.clock = clock

    @property
    def model(self) -> str:
        return self.provider.model

    def retrieve(self, question: str, history: list[Turn], index: SearchIndex | None) -> list[Record]:
        if index is None or len(index) == 0:
            return []
        weights: dict[str, float] = {}
        for term in tokenize(question):
            weights[term] = weights.get(term, 0.0) + 1.0
        earlier = usable_turns(history)
        if earlier:
            for term in tokenize(earlier[-1][0]):
                weights[term] = weights.get(term, 0.0) + PREVIOUS_QUESTION_WEIGHT
        return [record for record, _ in index.search_terms(weights, self.k)]

    def prompt(self, question: str, history: list[Turn], index: SearchIndex | None) -> Prompt:
        return build(question, history or [], self.retrieve(question, history or [], index), self.system_prompt)

    def answer(self, question: str, history: list[Turn], knowledge: Any, listener: Any = None) -> Answer:
        """`knowledge` is the data set's `Knowledge` (its index is searched) or, as before, a bare index."""
        index = getattr(knowledge, "index", knowledge)
        deadline = self.clock() + self.budget_seconds
        prompt = self.prompt(question, history, index)
        completion = self.provider.complete(prompt, deadline)
        if listener is not None:
            listener.delta(completion.text)
        return Answer(completion.text, prompt.sources, completion.input_tokens, completion.output_tokens)


def engine_for_settings(settings: dict[str, Any]) -> LanguageModelEngine:
    """The engine for a data set's stored answer settings (provider `bedrock` or `openai`)."""
    provider_name = settings.get("provider")
    if provider_name == "bedrock":
        from parley.providers.bedrock import BedrockProvider

        provider: Provider = BedrockProvider(settings)
    elif provider_name == "openai":
        from parley.providers.openai_compat import OpenAICompatibleProvider

        provider = OpenAICompatibleProvider(settings)
    else:
        raise ValueError(f"no language-model provider {provider_name!r}")
    return LanguageModelEngine(provider, settings.get("system_prompt"))
