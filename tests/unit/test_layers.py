"""What each function ships: API functions get the core layer only, the worker also the answer layer.

Both layers come from the one source tree (layers/parley/Makefile, answer-modules.txt lists the answer layer's
modules). Here every function's handler is imported as Lambda would with its own layers: in a fresh interpreter
where the modules of a layer the function lacks cannot be imported. test_sam.py checks the built layers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from parley_local.template import ROOT, Stack

LAYER_SOURCE = ROOT / "layers" / "parley"
ANSWER_MODULES = [
    line.strip()
    for line in (LAYER_SOURCE / "answer-modules.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]
STACK = Stack()

# Runs in the child: module names of the answer layer become unimportable, then the handler is imported.
_IMPORT_WITHOUT = """
import importlib, json, sys
blocked = json.loads(sys.argv[1])

class Absent:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in blocked):
            raise ModuleNotFoundError(f"No module named {name!r} (not in this function's layers)", name=name)
        return None

sys.meta_path.insert(0, Absent())
sys.path.insert(0, sys.argv[2])
importlib.import_module(sys.argv[3])
"""


def _module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def _own_layers(name: str) -> list[str]:
    return [str(layer.get("Ref")) for layer in STACK.template["Resources"][name]["Properties"].get("Layers", [])]


def _import(function, blocked: list[str]) -> subprocess.CompletedProcess:
    env = {
        "CONVERSATIONS_TABLE": "c",
        "TASKS_TABLE": "t",
        "DATA_SETS_TABLE": "d",
        "ACCOUNTS_TABLE": "a",
        "JOBS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/jobs.fifo",
        "INDEX_BUCKET": "b",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    module = function.handler.rsplit(".", 1)[0]
    return subprocess.run(
        [sys.executable, "-c", _IMPORT_WITHOUT, json.dumps(blocked), str(function.code_dir), module],
        capture_output=True,
        text=True,
        timeout=60,
        env={**_base_env(), **env},
    )


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}


def test_every_listed_answer_module_exists():
    assert ANSWER_MODULES
    for path in ANSWER_MODULES:
        assert (LAYER_SOURCE / path).exists(), f"answer-modules.txt lists {path}, which is not there"


@pytest.mark.parametrize("name", sorted(n for n in STACK.functions() if "AnswerLayer" not in _own_layers(n)))
def test_functions_without_the_answer_layer_import_without_it(name):
    done = _import(STACK.functions()[name], [_module_name(p) for p in ANSWER_MODULES])
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_worker_needs_the_answer_layer_and_has_it():
    worker = STACK.functions()["WorkerFunction"]
    assert "AnswerLayer" in _own_layers("WorkerFunction")
    without = _import(worker, [_module_name(p) for p in ANSWER_MODULES])
    # `from parley.logic import worker` reports the blocked module as a name it cannot import
    assert without.returncode != 0
    assert "not in this function's layers" in without.stderr or "cannot import name 'worker'" in without.stderr
    assert _import(worker, []).returncode == 0


def test_no_function_imports_the_client_or_the_samples():
    gone = ["parley_client", "parley_local", "httpx"]
    for name, function in STACK.functions().items():
        blocked = gone + ([] if "AnswerLayer" in _own_layers(name) else [_module_name(p) for p in ANSWER_MODULES])
        done = _import(function, blocked)
        assert done.returncode == 0, f"{name}: {done.stderr[-1500:]}"


# Runs in the child: the handler is imported, then the modules it loaded are printed.
_LOADED_BY_IMPORT = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
importlib.import_module(sys.argv[2])
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("name", sorted(n for n in STACK.functions() if n != "WorkerFunction"))
def test_a_handler_imports_only_its_own_body_model_and_no_sdk(name):
    """Cold start: a handler builds only its own request model (the models of other routes cost it milliseconds
    of pydantic class building), and boto3 loads on the first AWS call, not at import."""
    function = STACK.functions()[name]
    done = subprocess.run(
        [sys.executable, "-c", _LOADED_BY_IMPORT, str(function.code_dir), function.handler.rsplit(".", 1)[0]],
        capture_output=True,
        text=True,
        timeout=60,
        env={**_base_env(), "AWS_DEFAULT_REGION": "us-east-1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    body_models = {m for m in loaded if m.startswith("parley.models.") and m != "parley.models.base"}
    assert len(body_models) <= 1, f"{name} imports the models of other routes: {sorted(body_models)}"
    assert "boto3" not in loaded and "parley.dal.entities" not in loaded, name
