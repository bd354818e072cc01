"""Helper processes of the local stack (DynamoDB Local, the moto emulation): started, awaited, stopped alike."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the stack dies, even by SIGKILL (Linux only)."""
    os.setsid()  # its own process group: a terminal's Ctrl-C reaches the stack, which then stops the child
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


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
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
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
