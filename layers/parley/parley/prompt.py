"""Prompt assembly for the language-model engines, in one place.

A prompt is a system text plus chat messages. The system text tells the model to look catalog facts up with
its tools and never to invent prices or availability, followed by the data set's own instructions. The
messages are the conversation's earlier turns that fit a token budget (newest kept, failed turns left out),
each earlier answer followed by a one-line note of the tools it used and what it drew on, so that a
follow-up ("and how much is it?") can name what "it" was; then the question.

Tokens are estimated as characters / 4: close enough for budgeting across model families, and it needs
no tokenizer.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from parley.engine import Turn

__all__ = ["BASE_SYSTEM_PROMPT", "Prompt", "build", "estimate_tokens", "turn_note", "usable_turns"]

BASE_SYSTEM_PROMPT = (
    "You answer questions from customers about a company's products and documents.\n"
    "Use the tools to look up every catalog fact you state: products, prices, stock, options and policies. "
    "Never invent or estimate a price, a discount or whether something is available; state them only as a "
    "tool result gives them. Several independent look-ups may be asked for at once. If the tools find "
    "nothing that answers the question, say plainly that the available information does not answer it. "
    "Keep answers short and factual, and name the products or documents an answer comes from."
)

HISTORY_TOKEN_BUDGET = 1_500
NOTE_ITEMS = 8  # tool calls and sources named in one earlier turn's note


def estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4


@dataclass
class Prompt:
    system: str
    messages: list[dict[str, Any]]  # {"role": "user" | "assistant", "text": ...}, user first and last

    @property
    def estimated_tokens(self) -> int:
        return estimate_tokens(self.system) + sum(estimate_tokens(m["text"]) for m in self.messages)


def usable_turns(history: Iterable[Turn]) -> list[tuple[Turn, Turn]]:
    """Earlier (question, answer) pairs that succeeded.

    A question is kept only when an agent reply follows it directly, which leaves out failed turns (the
    question and its `system` notice) and anything unanswered. Pairs also keep the messages alternating
    user / assistant, as the Converse API requires.
    """
    turns = list(history or [])
    return [
        (current, following)
        for current, following in itertools.pairwise(turns)
        if current.role == "user" and following.role == "agent" and current.text and following.text
    ]


def turn_note(answer: Turn) -> str:
    """What an earlier answer looked up and drew on, in one bracketed line ('' when it used nothing)."""
    parts = []
    calls = []
    for step in answer.steps[:NOTE_ITEMS]:
        arguments = json.dumps(step.get("arguments") or {}, ensure_ascii=False, default=str)
        outcome = f"error: {step['error']}" if step.get("error") else f"{step.get('result_count', 0)} results"
        calls.append(f"{step.get('tool')}({arguments}) -> {outcome}")
    if calls:
        parts.append("looked up " + "; ".join(calls))
    if answer.sources:
        parts.append("drew on " + "; ".join(f"{s.type} {s.id} ({s.title})" for s in answer.sources[:NOTE_ITEMS]))
    return f"[{'; '.join(parts)}]" if parts else ""


def build(
    question: str, history: Iterable[Turn], system_prompt: str | None = None, history_budget: int = HISTORY_TOKEN_BUDGET
) -> Prompt:
    """The prompt for `question`, given the earlier turns (oldest first)."""
    system = BASE_SYSTEM_PROMPT
    if system_prompt and system_prompt.strip():
        system += "\n\nInstructions for this data set:\n" + system_prompt.strip()

    # history: whole pairs, newest first, while they fit
    kept: list[tuple[str, str]] = []
    spent = 0
    for asked, answered in reversed(usable_turns(history)):
        note = turn_note(answered)
        agent_text = f"{answered.text}\n\n{note}" if note else answered.text
        cost = estimate_tokens(asked.text) + estimate_tokens(agent_text)
        if spent + cost > history_budget:
            break
        kept.append((asked.text, agent_text))
        spent += cost
    messages: list[dict[str, Any]] = []
    for user_text, agent_text in reversed(kept):
        messages.append({"role": "user", "text": user_text})
        messages.append({"role": "assistant", "text": agent_text})
    messages.append({"role": "user", "text": question.strip()})
    return Prompt(system, messages)
