"""The benchmark scripts still run against today's code (a bench that breaks silently prints no figures).

Only what each measures is checked here, never a timing: the model loop's calls per answer, which layers
make up a function's package, and that the streaming bench's scripted engine is what the worker then uses."""

from __future__ import annotations

from bench import _scripted_stream, deploy_size, model_loop
from parley import config
from parley_local.template import load_template


def test_model_loop_bench_counts_the_calls_of_its_scenario(monkeypatch):
    for name in (*config.REQUIRED, "PARLEY_SECRETS_BACKEND", "PROVIDER_HTTP_HOSTS", "BENCH_KEY"):
        monkeypatch.setenv(name, "recorded")  # so that the test's end restores what was there before
        monkeypatch.delenv(name)  # the bench sets what it needs itself
    result = model_loop.run(["bad_argument"])
    assert {row["provider"] for row in result["rows"]} == {"openai", "bedrock"}
    # a bad argument answered as a tool error, the corrected call, then the answer: three model calls
    assert all(row["calls_mean"] == 3 and row["answers"] > 0 for row in result["rows"]), result["rows"]
    assert result["overhead_ms"]["samples"] > 0


def test_deploy_size_counts_each_function_with_the_layers_it_deploys_with():
    sizes = {
        "functions": {"TaskStatusFunction": {"bytes": 1}, "WorkerFunction": {"bytes": 1}},
        "layers": {"ParleyLayer": {"bytes": 10}, "AnswerLayer": {"bytes": 100}, "TracingLayer": {"bytes": 1000}},
    }
    template_text = (deploy_size.ROOT / "template.yaml").read_text()
    packages = deploy_size._packages(template_text, sizes)
    # tracing is off by default (EnableTracing=false): its layer is not part of either package
    assert packages == {"TaskStatusFunction": 11, "WorkerFunction": 111}
    assert load_template()["Globals"]["Function"]["Layers"][1]["Fn::If"][0] == "TracingEnabled"


def test_streaming_bench_engine_is_the_one_the_worker_asks_for(monkeypatch):
    from parley.logic import worker

    monkeypatch.setattr(worker, "engine_for", worker.engine_for)  # restored after the test
    monkeypatch.setenv("BENCH_STREAM_TOKENS", "3")
    monkeypatch.setenv("BENCH_STREAM_TOKEN_MS", "0")
    _scripted_stream.install()
    engine = worker.engine_for({"id": 1}, 1e12)  # as the worker calls it: the data set and a deadline
    heard: list[str] = []

    class Listener:
        def delta(self, text: str) -> None:
            heard.append(text)

    answer = engine.answer("q", [], None, Listener())
    assert heard == ["t0 ", "t1 ", "t2 "] and answer.text == "t0 t1 t2"
