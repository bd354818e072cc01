"""Prompt assembly for the language-model engines, in one place.

A prompt is a system text plus chat messages. The system text tells the model to answer only from the
supplied context and to say so when the context does not hold the answer, followed by the data set's own
instructions. The messages are the conversation's earlier turns that fit a token budget (newest kept,
failed turns left out), then one user message holding the labelled context and the question.

Tokens are estimated as characters / 4: close enough for budgeting across model families, and it needs
no tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from parley.engine import Source, Turn
from parley.retrieval import Record

__all__ = ["Prompt", "BASE_SYSTEM_PROMPT", "estimate_tokens", "label", "build", "usable_turns"]

BASE_SYSTEM_PROMPT = (
    "You answer questions from customers about a company's products and documents.\n"
    "Answer only from the context supplied with the question: each context item starts with a label "
    "in square brackets naming its source. Do not use outside knowledge, and do not guess. If the context "
    "does not contain the answer, say plainly that the available information does not answer the question. "
    "Keep answers short and factual, and name the product or document an answer comes from."
)

HISTORY_TOKEN_BUDGET = 1_500
CONTEXT_TOKEN_BUDGET = 3_000
ITEM_TOKEN_LIMIT = 800        # one long product or passage may not crowd out the rest


def estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4


@dataclass
class Prompt:
    system: str
    messages: list[dict[str, str]]              # {"role": "user" | "assistant", "text": ...}, user first and last
    sources: list[Source] = field(default_factory=list)

    @property
    def estimated_tokens(self) -> int:
        return estimate_tokens(self.system) + sum(estimate_tokens(m["text"]) for m in self.messages)


def label(record: Record) -> str:
    """`[product FU-BIZ-DUPLEX] FiberUP Business Duplex` / `[document https://...] Title`."""
    return f"[{record.type} {record.id}] {record.title}"


def usable_turns(history: Iterable[Turn]) -> list[tuple[str, str]]:
    """Earlier (question, answer) pairs that succeeded.

    A question is kept only when an agent reply follows it directly, which leaves out failed turns (the
    question and its `system` notice) and anything unanswered. Pairs also keep the messages alternating
    user / assistant, as the Converse API requires.
    """
    turns = list(history or [])
    pairs = []
    for current, following in zip(turns, turns[1:]):
        if current.role == "user" and following.role == "agent" and current.text and following.text:
            pairs.append((current.text, following.text))
    return pairs


def _clip(text: str, max_tokens: int) -> str:
    limit = max_tokens * 4
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " ..."


def build(question: str, history: Iterable[Turn], hits: Iterable[Record], system_prompt: str | None = None,
          history_budget: int = HISTORY_TOKEN_BUDGET, context_budget: int = CONTEXT_TOKEN_BUDGET) -> Prompt:
    """The prompt for `question`, given the earlier turns and the retrieved records (best first)."""
    system = BASE_SYSTEM_PROMPT
    if system_prompt and system_prompt.strip():
        system += "\n\nInstructions for this data set:\n" + system_prompt.strip()

    # context: records in rank order while they fit (the best one always does, clipped if need be)
    items: list[str] = []
    sources: list[Source] = []
    used = 0
    for record in hits:
        item = f"{label(record)}\n{_clip(record.text, ITEM_TOKEN_LIMIT)}"
        cost = estimate_tokens(item)
        if items and used + cost > context_budget:
            break
        items.append(item)
        used += cost
        source = Source.from_record(record)
        if all((s.type, s.id) != (source.type, source.id) for s in sources):
            sources.append(source)
    context = "\n\n".join(items) if items else "(nothing in this data set matches the question)"

    # history: whole pairs, newest first, while they fit
    kept: list[tuple[str, str]] = []
    spent = 0
    for user_text, agent_text in reversed(usable_turns(history)):
        cost = estimate_tokens(user_text) + estimate_tokens(agent_text)
        if spent + cost > history_budget:
            break
        kept.append((user_text, agent_text))
        spent += cost
    messages: list[dict[str, str]] = []
    for user_text, agent_text in reversed(kept):
        messages.append({"role": "user", "text": user_text})
        messages.append({"role": "assistant", "text": agent_text})
    messages.append({"role": "user", "text": f"Context:\n\n{context}\n\nQuestion: {question.strip()}"})
    return Prompt(system, messages, sources)
