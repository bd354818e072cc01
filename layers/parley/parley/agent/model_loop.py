"""The tool-calling loop: a language model asks for tools, we run them, it answers from their results.

Provider-neutral. A provider adapter (`parley.providers.bedrock`, `parley.providers.openai_compat`) turns the
neutral conversation below into its own request and its reply back into a :class:`ModelReply`:

- ``{"role": "user", "text": ...}``
- ``{"role": "assistant", "text": ..., "calls": [ToolCall, ...]}`` (``calls`` empty or absent for plain text)
- ``{"role": "tool", "results": [ToolOutcome, ...]}`` (one per call of the assistant message before it)

The loop is bounded twice: at most `max_steps` model calls with tools offered, and the answer's deadline
(the worker's remaining Lambda time). When either runs out the model is asked once more, with no tools and
the tool results so far written into the question, for its final answer; a model that still gives no text
ends in :class:`StepLimitReached`. A bad argument, an unknown tool or a failed tool is returned to the model as
a tool error and never fails the answer.

A listener's `delta` is called from the thread that runs the model call (each call runs under a hard
deadline in a thread of its own, see `parley.providers.base.within`), its `step` from the caller's thread.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from parley.agent.contracts import AnswerListener, Knowledge, Step, Tool, ToolError, ToolResult
from parley.agent.tools import validate
from parley.engine import Answer, Source
from parley.log import logger

DEFAULT_MAX_STEPS = 6
MAX_PARALLEL_CALLS = 4
RESULT_CHARS_IN_FINAL_REQUEST = 4_000  # one tool result as text in the final, tool-less request

FINAL_REQUEST = (
    "No more tools can be used for this answer. Answer the question now from the tool results "
    "above. If they do not hold the answer, say so plainly; do not guess prices or availability."
)

_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=MAX_PARALLEL_CALLS, thread_name_prefix="tool")
    return _pool


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: Any  # the decoded JSON object, or the model's raw text when it was not valid JSON


def decoded_arguments(raw: str) -> Any:
    """A model's arguments text as JSON; the text itself when it is not JSON (then a bad argument)."""
    try:
        return json.loads(raw) if raw.strip() else {}
    except ValueError:
        return raw


@dataclass
class ToolOutcome:
    call: ToolCall
    content: dict[str, Any]  # what the model is shown
    error: str | None = None


@dataclass
class ModelReply:
    text: str
    calls: list[ToolCall] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0


class ChatModel(Protocol):
    """One model call. `tools=None` offers none. `on_text`, when given, asks for streaming and receives the
    reply's text as it arrives. Raises `ProviderError` when the call fails for good."""

    model: str

    def reply(
        self,
        system: str,
        messages: list[dict[str, Any]],
        tools: Sequence[Tool] | None,
        deadline: float,
        on_text: Callable[[str], None] | None = None,
    ) -> ModelReply: ...


class StepLimitReached(Exception):
    code = "agent_step_limit"
    message = "The language model did not answer within the number of steps this data set allows."


class _Text:
    """The answer's text over all model calls, paragraphs apart, so what a listener was streamed is exactly
    what is stored."""

    def __init__(self, listener: AnswerListener | None):
        self.listener = listener
        self.parts: list[str] = []
        self._current: list[str] = []
        self.closed = False

    def on_text(self, delta: str) -> None:
        if self.closed:
            return
        if not self._current:  # a reply's first text: no leading blanks, a paragraph apart from earlier text
            delta = delta.lstrip()
            if not delta:
                return
            if self.parts:
                delta = "\n\n" + delta
        self._current.append(delta)
        if self.listener is not None:
            self.listener.delta(delta)

    def end_reply(self, reply: ModelReply) -> None:
        """Called after each model call: a reply whose text was not streamed is added whole."""
        if not self._current:
            self.on_text(reply.text.strip())
        if self._current:
            self.parts.append("".join(self._current).rstrip())
            self._current = []

    @property
    def value(self) -> str:
        return "".join(self.parts).strip()


def run_call(call: ToolCall, tools: dict[str, Tool], knowledge: Knowledge) -> tuple[Step, ToolOutcome, list[Source]]:
    """Run one tool call; every failure becomes the outcome's error."""
    started = time.perf_counter()
    tool = tools.get(call.name)
    result: ToolResult | None = None
    if tool is None:
        error = f"there is no tool named {call.name!r}; the tools are {', '.join(tools) or 'none'}"
    elif not isinstance(call.arguments, dict):
        error = "the arguments are not a JSON object"
    else:
        error = None
    if tool is not None and error is None:
        try:
            validate(call.arguments, tool.input_schema)  # whatever the tool checks itself
            result = tool.run(knowledge, call.arguments)
        except ToolError as exc:
            error = str(exc) or "the tool could not run with these arguments"
        except Exception:  # a broken tool is the model's problem to work around, not the task's end
            logger.exception("tool failed", extra={"tool": call.name})
            error = "the tool failed"
    duration_ms = (time.perf_counter() - started) * 1000
    arguments = call.arguments if isinstance(call.arguments, dict) else {"raw": str(call.arguments)[:500]}
    step = Step(call.name, arguments, result.count if result else 0, duration_ms, error)
    content = result.content if result is not None else {"error": error}
    return step, ToolOutcome(call, content, error), (result.sources if result else [])


def run_calls(
    calls: list[ToolCall], tools: dict[str, Tool], knowledge: Knowledge
) -> list[tuple[Step, ToolOutcome, list[Source]]]:
    """The calls of one model reply, side by side when there are several; results in call order."""
    if len(calls) == 1:
        return [run_call(calls[0], tools, knowledge)]
    futures = [_executor().submit(run_call, call, tools, knowledge) for call in calls]
    return [future.result() for future in futures]


def final_request(messages: list[dict[str, Any]], first_new: int) -> list[dict[str, Any]]:
    """The conversation for the tool-less final call: the question, then each call and its result as text
    (both providers reject tool blocks in a request that offers no tools)."""
    question = messages[first_new - 1]["text"]
    lines = []
    for message in messages[first_new:]:
        for outcome in message.get("results", []):
            shown = json.dumps(outcome.content, ensure_ascii=False, default=str)
            if len(shown) > RESULT_CHARS_IN_FINAL_REQUEST:
                shown = shown[:RESULT_CHARS_IN_FINAL_REQUEST] + " ...(cut)"
            arguments = json.dumps(outcome.call.arguments, ensure_ascii=False, default=str)
            lines.append(f"- {outcome.call.name}({arguments}) -> {shown}")
    results = "\n".join(lines) or "(no tool was called)"
    text = f"{question}\n\nTool results for this question:\n{results}\n\n{FINAL_REQUEST}"
    return [*messages[: first_new - 1], {"role": "user", "text": text}]


def run(
    model: ChatModel,
    system: str,
    messages: list[dict[str, Any]],
    knowledge: Knowledge,
    tools: Sequence[Tool],
    *,
    max_steps: int = DEFAULT_MAX_STEPS,
    deadline: float,
    listener: AnswerListener | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Answer:
    """Answer the last user message of `messages` (earlier turns before it), using `tools`."""
    from parley.providers.base import ERROR, ProviderError  # not at the top: parley.providers imports this module

    conversation = list(messages)
    first_new = len(conversation)
    by_name = {tool.name: tool for tool in tools}
    text = _Text(listener)
    steps: list[Step] = []
    sources: dict[tuple[str, str], Source] = {}
    tokens = [0, 0]
    longest_call = 0.0

    def ask(offered: Sequence[Tool] | None, sent: list[dict[str, Any]]) -> ModelReply:
        nonlocal longest_call
        started = clock()
        reply = model.reply(system, sent, offered, deadline, text.on_text if listener is not None else None)
        longest_call = max(longest_call, clock() - started)
        tokens[0] += reply.input_tokens
        tokens[1] += reply.output_tokens
        text.end_reply(reply)
        return reply

    def answer() -> Answer:
        return Answer(text.value, list(sources.values()), tokens[0], tokens[1], steps)

    try:
        for _ in range(max_steps):
            reply = ask(tools or None, conversation)
            if not reply.calls:
                if reply.text.strip():
                    return answer()
                raise ProviderError(ERROR, "the model returned no text")
            conversation.append({"role": "assistant", "text": reply.text, "calls": reply.calls})
            outcomes = []
            for step, outcome, found in run_calls(reply.calls, by_name, knowledge):
                steps.append(step)
                outcomes.append(outcome)
                for source in found:
                    sources.setdefault((source.type, source.id), source)
                if listener is not None:
                    listener.step(step)
            conversation.append({"role": "tool", "results": outcomes})
            if clock() + 2 * longest_call > deadline:
                break  # no room for another step and the final call after it: make this the final one

        reply = ask(None, final_request(conversation, first_new))
        if reply.calls or not reply.text.strip():
            raise StepLimitReached()
        return answer()
    finally:
        text.closed = True  # a call abandoned at the deadline may still be streaming: its text is dropped
