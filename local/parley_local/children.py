"""Helper processes of the local stack (DynamoDB Local, the moto emulation): started, awaited, stopped alike."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

# `python -c` this, the parent's pid, then a command: on Linux, ask for SIGTERM when the parent dies (even by
# SIGKILL), then become the command (the request survives exec). A program of its own rather than a preexec_fn:
# code run between fork and exec can deadlock once the parent has threads.
_EXEC_DYING_WITH_PARENT = """
import ctypes, os, signal, sys
PR_SET_PDEATHSIG = 1
ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
if os.getppid() != int(sys.argv[1]):
    sys.exit("the parent exited before the child started")
os.execvp(sys.argv[2], sys.argv[2:])
"""


def dying_with_parent(command: list[str]) -> list[str]:
    """`command` made to get SIGTERM when this process dies, even by SIGKILL (Linux only; elsewhere as is)."""
    if not sys.platform.startswith("linux"):
        return command
    if shutil.which(command[0]) is None:  # fail here, as Popen would, rather than in the wrapper
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), command[0])
    return [sys.executable, "-I", "-S", "-c", _EXEC_DYING_WITH_PARENT, str(os.getpid()), *command]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def stop_process(process: subprocess.Popen, timeout: float = 10) -> int:
    """SIGTERM, then SIGKILL if it has not exited within `timeout`; returns the exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


class ChildProcess:
    """A child serving on a loopback port, its output appended to `log_path`."""

    name = "child process"
    unavailable: type[Exception] = RuntimeError  # raised when it exits or never listens

    def __init__(self, port: int, log_path: Path | None = None):
        self.port = port
        self.endpoint_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def launch(self, command: list[str], cwd: Path | None = None) -> None:
        output = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        try:
            # a session of its own: a terminal's Ctrl-C reaches the stack, which then stops the child
            self.process = subprocess.Popen(
                dying_with_parent(command),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            if self.log_path:
                output.close()

    def wait_ready(self, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.process.poll() is not None:
                detail = self.log_path.read_text()[-2000:] if self.log_path and self.log_path.exists() else ""
                raise self.unavailable(f"{self.name} exited with {self.process.returncode}\n{detail}")
            if time.monotonic() > deadline:
                self.stop()
                raise self.unavailable(f"{self.name} did not listen on port {self.port} in {timeout} s")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
