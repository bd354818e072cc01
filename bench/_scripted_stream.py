"""A scripted streaming engine for the streaming benchmark, installed in the benchmark's stack process when
BENCH_STREAM_TOKENS is set: every answer is that many tokens, one every BENCH_STREAM_TOKEN_MS, each handed
to the streaming listener as it is "produced" (the shape of a model streaming through issue 12's loop)."""

from __future__ import annotations

import os
import time


class ScriptedStreamingEngine:
    def __init__(self, tokens: int, token_seconds: float):
        self.tokens = tokens
        self.token_seconds = token_seconds

    def answer(self, question, history, knowledge, listener=None):
        from parley.engine import Answer

        parts = []
        for number in range(self.tokens):
            time.sleep(self.token_seconds)
            token = f"t{number} "
            parts.append(token)
            if listener is not None:
                listener.delta(token)
        return Answer(
            text="".join(parts).strip(), sources=[], input_tokens=len(question.split()), output_tokens=self.tokens
        )


def install() -> None:
    from parley.logic import worker

    engine = ScriptedStreamingEngine(
        int(os.environ["BENCH_STREAM_TOKENS"]), float(os.environ.get("BENCH_STREAM_TOKEN_MS", "10")) / 1000
    )
    worker.engine_for = lambda data_set, not_after=None: engine
