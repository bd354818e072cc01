"""9. The tool-calling loop (issue 12), driven by the scripted model on loopback: model calls and tokens per answer
on the question suites (tests/fixtures/suites/<catalog>.jsonl), per provider (OpenAI-compatible over httpx,
Bedrock Converse through botocore) and scenario, and the loop's own time per step.

"Loop overhead" is an answer's wall time less the time inside the provider's `reply` (the request built, sent
to the scripted server and parsed) and less the wall time of the tools' `run`; divided by the answer's model
calls. It is what the loop itself adds per step: prompt and history, argument checks, thread dispatch, steps
and sources, the next request's messages.

    .venv/bin/python -m bench.model_loop                 # prints the table
    .venv/bin/python -m bench.model_loop --markdown      # the BENCHMARKS.md section
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.agent_eval import catalog_files, catalogs, load_suite
from bench.common import median, percentile

SCENARIOS = ("one_tool", "parallel", "bad_argument")
PROVIDERS = ("openai", "bedrock")
OVERHEAD_TARGET_MS = 5.0


class Timed:
    """A provider whose `reply` time is recorded (model time: the adapter plus the scripted server)."""

    def __init__(self, provider: Any, clock: list[float]):
        self.provider, self.clock, self.model = provider, clock, provider.model

    def reply(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.provider.reply(*args, **kwargs)
        finally:
            self.clock[0] += time.perf_counter() - started


def timed_tools(intervals: list[tuple[float, float]]) -> list[Any]:
    from parley.agent.contracts import Tool
    from parley.agent.tools import TOOLS

    lock = threading.Lock()

    def timed(tool: Tool) -> Tool:
        def run(knowledge: Any, args: dict[str, Any]) -> Any:
            started = time.perf_counter()
            try:
                return tool.run(knowledge, args)
            finally:
                with lock:
                    intervals.append((started, time.perf_counter()))

        return Tool(tool.name, tool.description, tool.input_schema, run)

    return [timed(tool) for tool in TOOLS]


def covered(intervals: list[tuple[float, float]]) -> float:
    """Seconds covered by the intervals (tools of one step run side by side: overlaps count once)."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


def provider_for(name: str, endpoint: str, base_url: str, scenario: str) -> Any:
    model = f"scripted-{scenario}"
    if name == "openai":
        from parley.providers.openai_compat import OpenAICompatibleProvider

        return OpenAICompatibleProvider({"model": model, "base_url": base_url, "api_key_secret": "BENCH_KEY"})
    import boto3
    from botocore.config import Config

    from parley.providers.bedrock import BedrockProvider

    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"total_max_attempts": 1}),
    )
    return BedrockProvider({"model": model}, client=client)


def run(scenarios: list[str]) -> dict[str, Any]:
    from parley import config
    from parley.agent.catalog import Catalog
    from parley.agent.contracts import Knowledge
    from parley.engine import Turn
    from parley.providers import LanguageModelEngine
    from parley.retrieval import SearchIndex
    from parley_local.scripted_model import ScriptedModel

    # The providers read the secrets backend through Settings, which wants the stack's resource names too;
    # this bench touches no table or queue.
    for name in config.REQUIRED:
        os.environ.setdefault(name, "bench-unused")
    os.environ["PARLEY_SECRETS_BACKEND"] = "env"
    os.environ["PROVIDER_HTTP_HOSTS"] = "127.0.0.1"  # the scripted model on loopback, allowed as `make dev` does
    config.reset()
    os.environ["BENCH_KEY"] = "unused"
    rows: list[dict[str, Any]] = []
    overhead_ms: list[float] = []
    with ScriptedModel() as server:
        for catalog in catalogs():
            products, documents = catalog_files(catalog)
            knowledge = Knowledge(Catalog.build(products), SearchIndex.build(products, documents))
            cases = load_suite(catalog)
            for provider_name in PROVIDERS:
                for scenario in scenarios:
                    model_time = [0.0]
                    intervals: list[tuple[float, float]] = []
                    provider = Timed(
                        provider_for(provider_name, server.endpoint, server.base_url, scenario), model_time
                    )
                    engine = LanguageModelEngine(provider, None, tools=timed_tools(intervals), budget_seconds=60)
                    calls, tokens, steps = [], [], []
                    for case in cases:
                        history: list[Turn] = []
                        for question in [*case.get("turns", []), case["question"]]:
                            model_time[0] = 0.0
                            intervals.clear()
                            before = len(server.requests)
                            started = time.perf_counter()
                            answer = engine.answer(question, history, knowledge)
                            elapsed = time.perf_counter() - started
                            made = len(server.requests) - before
                            history += [
                                Turn("user", question),
                                Turn("agent", answer.text, answer.sources, [s.as_dict() for s in answer.steps]),
                            ]
                            overhead_ms.append((elapsed - model_time[0] - covered(intervals)) / made * 1000)
                        calls.append(made)  # the case's own question (the last turn)
                        tokens.append(answer.input_tokens + answer.output_tokens)
                        steps.append(len(answer.steps))
                    rows.append(
                        {
                            "catalog": catalog,
                            "provider": provider_name,
                            "scenario": scenario,
                            "answers": len(cases),
                            "calls_mean": sum(calls) / len(calls),
                            "calls_max": max(calls),
                            "tokens_median": median(tokens),
                            "tokens_mean": sum(tokens) / len(tokens),
                            "steps_mean": sum(steps) / len(steps),
                        }
                    )
    return {
        "rows": rows,
        "overhead_ms": {"p50": median(overhead_ms), "p95": percentile(overhead_ms, 95), "samples": len(overhead_ms)},
    }


def markdown(result: dict[str, Any]) -> list[str]:
    lines = [
        "Every suite question answered by the model loop against the scripted model "
        "(`python -m bench.model_loop`), with the catalog agent's tools on the catalog in memory; a case's "
        "earlier turns are answered first and sent as history. The scenario fixes how many calls the model "
        "asks for, so the calls show the loop's mechanics, not a real model's choices; the tokens show what "
        "each answer costs with the real prompt, tool schemas, history and tool results: the scripted "
        "server's count (request and reply JSON / 4), summed over the answer's model calls.\n",
        "| catalog | provider | scenario | answers | model calls / answer (mean, max) | tool calls / answer "
        "| tokens / answer (median, mean) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['catalog']} | {row['provider']} | {row['scenario']} | {row['answers']} | "
            f"{row['calls_mean']:.2f}, {row['calls_max']} | {row['steps_mean']:.2f} | "
            f"{row['tokens_median']:.0f}, {row['tokens_mean']:.0f} |"
        )
    over = result["overhead_ms"]
    lines.append(
        f"\nLoop overhead per step (answer time less model and tool time, per model call), over "
        f"{over['samples']} answers: p50 **{over['p50']:.2f} ms**, p95 {over['p95']:.2f} ms "
        f"(target p50 <= {OVERHEAD_TARGET_MS:.0f} ms)."
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--out", help="write the results as JSON to this file")
    parser.add_argument("--markdown", action="store_true", help="print the BENCHMARKS.md section")
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(root / "local"), str(root / "layers" / "parley")]
    result = run([s for s in args.scenarios.split(",") if s])
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    if args.markdown:
        print("\n".join(markdown(result)))
        return
    for row in result["rows"]:
        print(
            f"{row['catalog']:8} {row['provider']:8} {row['scenario']:13} calls/answer {row['calls_mean']:.2f} "
            f"(max {row['calls_max']})  tools/answer {row['steps_mean']:.2f}  tokens/answer median "
            f"{row['tokens_median']:.0f} mean {row['tokens_mean']:.0f}"
        )
    over = result["overhead_ms"]
    print(
        f"loop overhead per step: p50 {over['p50']:.2f} ms, p95 {over['p95']:.2f} ms ({over['samples']} answers; "
        f"target p50 <= {OVERHEAD_TARGET_MS:.0f} ms)"
    )


if __name__ == "__main__":
    main()
