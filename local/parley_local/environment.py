"""One Lambda execution environment: a process that imports a function's handler once (its cold start) and then
serves one invocation at a time, keeping its module state between invocations.

`Environment` is the stack's side, `main()` the process's (`PROCESS_COMMAND`). They talk over
two pipes of their own (the handler's stdout and stderr stay the stack's log), in frames of a 4-byte length and
that many bytes:
- stack -> environment: a header (JSON: request id, time limit), then the event (JSON);
- environment -> stack: once after the import, b"I" (ready) or b"E" + an error; then per invocation b"R" + the
  result as Lambda's python3.13 runtime marshals it (the bytes Lambda's 6 MB limit counts) or b"E" + an error.
The environment exits when its input pipe closes, so it never outlives the stack.
"""

from __future__ import annotations

import decimal
import importlib
import json
import os
import select
import struct
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

_LENGTH = struct.Struct("!I")
READY, RESULT, ERROR = b"I", b"R", b"E"
# A variable naming a module the environment imports before the handler (the bench's timing hooks).
PRELOAD_VARIABLE = "PARLEY_LOCAL_ENV_PRELOAD"
# The environment process imports this module and runs its main(); not `python -m`, which would run a second copy
# named __main__, where a preloaded hook that wraps parley_local.environment.run_handler would not take effect.
PROCESS_COMMAND = [
    sys.executable,
    "-c",
    "import sys; from parley_local.environment import main; sys.exit(main(sys.argv[1:]))",
]


class EnvironmentFailed(Exception):
    """The environment process died, timed out or could not start: the invocation failed with it."""


def marshal(result: Any) -> bytes:
    """The handler's result as Lambda's python3.12+ runtime serialises it: JSON, non-ASCII kept as UTF-8,
    NaN allowed, Decimal written as a number. Its length is what Lambda compares with the 6 MB limit."""

    def number(value: Any) -> Any:
        if isinstance(value, decimal.Decimal):
            return float(value) if value % 1 else int(value)
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    return json.dumps(result, ensure_ascii=False, allow_nan=True, default=number).encode("utf-8")


def _write_frame(fd: int, *parts: bytes) -> None:
    data = memoryview(_LENGTH.pack(sum(len(p) for p in parts)) + b"".join(parts))
    while data:
        data = data[os.write(fd, data) :]


def _read_exact(fd: int, size: int, deadline: float | None = None) -> bytes | None:
    """`size` bytes from `fd`, None at end of file; EnvironmentFailed when `deadline` passes first."""
    chunks, wanted = [], size
    while wanted:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            if remaining <= 0 or not poller.poll(remaining * 1000):
                raise TimeoutError
        chunk = os.read(fd, min(wanted, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        wanted -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd: int, deadline: float | None = None) -> bytes | None:
    header = _read_exact(fd, _LENGTH.size, deadline)
    if header is None:
        return None
    (size,) = _LENGTH.unpack(header)
    return _read_exact(fd, size, deadline) if size else b""


class Environment:
    """The stack's handle on one environment process of `function` (a template.Function)."""

    def __init__(self, function: Any, number: int):
        self.function = function
        self.number = number
        self.process: subprocess.Popen | None = None
        self._to_child = self._from_child = -1

    def start(self) -> float:
        """Spawn the process and wait for its handler import; returns the init time in seconds."""
        started = time.monotonic()
        child_in, self._to_child = os.pipe()
        self._from_child, child_out = os.pipe()
        spec = {
            "name": self.function.logical_id,
            "code_dir": str(self.function.code_dir),
            "handler": self.function.handler,
            "memory_mb": self.function.memory_mb,
        }
        env = {
            **os.environ,
            "AWS_LAMBDA_FUNCTION_NAME": self.function.logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.function.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "PYTHONUNBUFFERED": "1",
        }
        try:
            # a session of its own: a terminal's Ctrl-C reaches the stack, which then stops its environments
            self.process = subprocess.Popen(
                [*PROCESS_COMMAND, json.dumps(spec), str(child_in), str(child_out)],
                stdin=subprocess.DEVNULL,
                pass_fds=(child_in, child_out),
                env=env,
                start_new_session=True,
            )
        finally:
            os.close(child_in)
            os.close(child_out)
        # Lambda allows 10 s of init; a loaded 2-core machine gets the function's timeout on top
        reply = self._receive(started + 10 + self.function.timeout_s, "its start")
        if reply[:1] != READY:
            self.stop()
            raise EnvironmentFailed(f"init failed: {error_text(reply[1:])}")
        return time.monotonic() - started

    def invoke(self, request_id: str, event_json: bytes) -> bytes:
        """Run one invocation; returns the reply frame (RESULT or ERROR + payload). EnvironmentFailed when the
        process dies or runs past the function's timeout (then it is killed, as Lambda does)."""
        header = json.dumps({"request_id": request_id, "timeout_ms": self.function.timeout_s * 1000}).encode()
        try:
            _write_frame(self._to_child, header)
            _write_frame(self._to_child, event_json)
        except OSError as exc:
            self.stop()
            raise EnvironmentFailed(f"the environment process is gone ({exc})") from None
        return self._receive(time.monotonic() + self.function.timeout_s, f"{self.function.timeout_s} s")

    def _receive(self, deadline: float, limit: str) -> bytes:
        try:
            reply = _read_frame(self._from_child, deadline)
        except TimeoutError:
            self.stop()
            raise EnvironmentFailed(f"Task timed out after {limit}; the environment was stopped") from None
        if reply is None:
            code = self.process.wait(timeout=10)
            self.stop()
            raise EnvironmentFailed(f"the environment process exited with code {code}")
        return reply

    def stop(self) -> None:
        for fd in (self._to_child, self._from_child):
            if fd >= 0:
                os.close(fd)
        self._to_child = self._from_child = -1
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def error_text(payload: bytes) -> str:
    try:
        error = json.loads(payload)
        return f"{error['errorType']}: {error['errorMessage']}"
    except (ValueError, KeyError, TypeError):
        return payload[:200].decode("utf-8", "replace")


def error_payload(exc: BaseException) -> bytes:
    """A function error the way Lambda reports one (errorType, errorMessage, stackTrace)."""
    return json.dumps(
        {"errorType": type(exc).__name__, "errorMessage": str(exc), "stackTrace": traceback.format_exception(exc)}
    ).encode()


def run_handler(name: str, handler: Callable, event: Any, context: Any) -> Any:
    """One invocation (a seam the bench's timing hooks wrap)."""
    return handler(event, context)


def main(argv: list[str]) -> int:
    from parley_local.runtime import LambdaContext

    spec, fd_in, fd_out = json.loads(argv[0]), int(argv[1]), int(argv[2])
    sys.path.insert(0, spec["code_dir"])  # Lambda's /var/task: the handler module imports as itself
    module_name, attr = spec["handler"].rsplit(".", 1)
    try:
        if os.environ.get(PRELOAD_VARIABLE):
            importlib.import_module(os.environ[PRELOAD_VARIABLE])
        handler = getattr(importlib.import_module(module_name), attr)
    except BaseException as exc:
        _write_frame(fd_out, ERROR, error_payload(exc))
        return 1
    _write_frame(fd_out, READY)
    while True:
        header = _read_frame(fd_in)
        event_json = _read_frame(fd_in) if header is not None else None
        if event_json is None:  # the stack closed the pipe: it stopped this environment, or it died
            return 0
        request = json.loads(header)
        context = LambdaContext(spec["name"], spec["memory_mb"], request["timeout_ms"] / 1000, request["request_id"])
        try:
            reply = RESULT + marshal(run_handler(spec["name"], handler, json.loads(event_json), context))
        except Exception as exc:
            traceback.print_exc()
            reply = ERROR + error_payload(exc)
        _write_frame(fd_out, reply)
