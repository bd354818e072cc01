"""The local stack as `make dev` runs it, in a subprocess, reached over real HTTP.

Every integration test runs twice: on DynamoDB Local (AWS's emulator) with each function in environment
processes of its own (both as `make dev` runs by default), and on moto (`--moto`) with every function in the
stack's process (`--in-process`, the debugging mode), so a behaviour that differs between moto and DynamoDB, or
between the two process models, fails a test. PARLEY_TEST_STACKS=all runs all four combinations."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from parley_local.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = {"dynamodb-local": [], "moto": ["--moto"]}
MODES = {"processes": [], "in-process": ["--in-process"]}
STACKS = {
    f"{backend}-{mode}": BACKENDS[backend] + MODES[mode]
    for backend, mode in (
        list(itertools.product(BACKENDS, MODES))
        if os.environ.get("PARLEY_TEST_STACKS") == "all"
        else [("dynamodb-local", "processes"), ("moto", "in-process")]
    )
}


@dataclass
class RunningStack:
    url: str
    token: str
    process: subprocess.Popen
    log_path: Path
    state_path: Path  # the stack's local.json (api_url, token, tables, AWS endpoint) for the CLI
    in_process: bool = False  # every function in the stack's process (--in-process)

    def client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, headers={"Authorization": f"Token {token or self.token}"})


def start_stack(
    tmp_path: Path,
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
    token: str = "prl_1_" + "T" * 43,
) -> RunningStack:
    """Start `python -m parley_local` with its data under tmp_path/data (unless extra_args names --data-dir)."""
    port = free_port()
    log_path = tmp_path / f"dev-{port}.log"
    extra_args = list(extra_args or [])
    if "--data-dir" not in extra_args:
        extra_args += ["--data-dir", str(tmp_path / "data")]
    child_env = {
        **os.environ,
        "PORT": str(port),
        "PARLEY_DEV_TOKEN": token,
        "PARLEY_LOCAL_STATE": str(tmp_path / f"local-{port}.json"),
        **(env or {}),
    }
    child_env.pop("AWS_ENDPOINT_URL", None)
    child_env.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
    log = open(log_path, "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "parley_local", *extra_args],
        cwd=ROOT,
        env=child_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240  # DynamoDB Local (a JVM) starts slowly on a busy 2-core machine
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"local stack exited early:\n{log_path.read_text()}")
        if "dev token:" in log_path.read_text():
            break
        time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError(f"local stack did not start:\n{log_path.read_text()}")
    return RunningStack(url, token, process, log_path, Path(child_env["PARLEY_LOCAL_STATE"]))


def stop_stack(stack: RunningStack, sig: int = signal.SIGTERM) -> int:
    stack.process.send_signal(sig)
    try:
        return stack.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        stack.process.kill()
        return stack.process.wait()


@pytest.fixture(scope="session", params=list(STACKS))
def local_stack(request, tmp_path_factory) -> RunningStack:
    """One `make dev` stack per DynamoDB backend and process model, shared by the integration tests."""
    stack = start_stack(tmp_path_factory.mktemp(f"stack-{request.param}"), STACKS[request.param])
    stack.in_process = "--in-process" in STACKS[request.param]
    yield stack
    stop_stack(stack)
