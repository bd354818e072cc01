"""Types shared by the tools, the offline planner, the language-model loop and the streaming listener."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from parley.engine import Source


@dataclass(frozen=True)
class Step:
    """One tool call made while answering, as the agent message's `steps` shows it."""

    tool: str
    arguments: dict[str, Any]
    result_count: int
    duration_ms: float
    error: str | None = None  # a bad argument or a failed tool, reported back instead of failing the task

    def as_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "tool": self.tool,
            "arguments": self.arguments,
            "result_count": self.result_count,
            "duration_ms": round(self.duration_ms, 2),
        }
        if self.error:
            shown["error"] = self.error
        return shown


@dataclass
class ToolResult:
    content: dict[str, Any]  # JSON-serialisable: what a language model is shown
    count: int  # how many results (products or passages) it holds
    sources: list[Source] = field(default_factory=list)


class ToolError(Exception):
    """A bad argument or a failed tool. Goes back to the caller (a model) as an error; never fails the task."""


@dataclass
class Knowledge:
    """What a data set's answers are drawn from, held in the worker's memory: the typed catalog and the
    search index (products and document passages)."""

    catalog: Any
    index: Any


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    input_schema: dict[str, Any]  # JSON Schema of the arguments object
    run: Callable[[Knowledge, dict[str, Any]], ToolResult]


class AnswerListener(Protocol):
    """Progress of one answer, for streaming: each tool call as it ends, and answer text as it is produced."""

    def step(self, step: Step) -> None: ...

    def delta(self, text: str) -> None: ...
