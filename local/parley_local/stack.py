"""Starts the whole local stack: AWS emulation, resources from template.yaml, sample data, gateway, pump."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parley_local.resources import REGION, create_resources
from parley_local.runtime import DEFAULT_CONCURRENCY, DEFAULT_IDLE_SECONDS, Gateway, QueuePump
from parley_local.template import ROOT, Stack

STATE_DIR = ROOT / ".parley-data"

# Locally a failed job is retried after seconds, not the deployed queue's 180 s visibility timeout.
LOCAL_QUEUE_OVERRIDES = {"JobsQueue": {"VisibilityTimeout": "5"}}
# Locally a model server on the developer's machine (Ollama, the tests' scripted server) is reachable over http.
LOCAL_ENVIRONMENT = {"PROVIDER_HTTP_HOSTS": "localhost,127.0.0.1,::1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def use_emulated_aws(endpoint_url: str | None, dynamodb_endpoint_url: str | None = None) -> None:
    """Point every boto3 client of this process (the handlers' too) at the emulation, with dummy keys.

    `dynamodb_endpoint_url` sends DynamoDB elsewhere (DynamoDB Local) while SQS and S3 stay on moto."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }
    )
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    for name, value in (("AWS_ENDPOINT_URL", endpoint_url), ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint_url)):
        if value:
            os.environ[name] = value
        else:
            os.environ.pop(name, None)


@dataclass
class LocalStack:
    stack: Stack
    physical: dict[str, dict[str, str]]
    gateway: Gateway
    pump: QueuePump | None = None
    endpoint_url: str | None = None
    _servers: list[Any] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        return {**self.stack.environment(self.physical), **LOCAL_ENVIRONMENT}

    def stop(self) -> None:
        if self.pump:
            self.pump.stop()
        self.gateway.close()  # the environment processes, before the emulation they talk to
        for server in self._servers:
            server.stop()


def spawn_emulation(log_path: Path | None = None) -> Any:
    """Start moto server in its own process (see parley_local.emulation) without waiting for it; the
    caller waits with `.wait_ready()` and stops it with `.stop()`. Spawn it before any thread exists."""
    from parley_local.emulation import EmulationProcess

    return EmulationProcess(free_port(), log_path).spawn()


def start_emulation(log_path: Path | None = None) -> tuple[Any, str]:
    server = spawn_emulation(log_path).wait_ready()
    return server, server.endpoint_url


def build(
    endpoint_url: str | None,
    pump_threads: int = 2,
    start_pump: bool = True,
    in_process: bool = True,
    default_concurrency: int = DEFAULT_CONCURRENCY,
    idle_seconds: float = DEFAULT_IDLE_SECONDS,
) -> LocalStack:
    """Create the missing resources and wire the gateway and queue pump (AWS clients must already be emulated
    by use_emulated_aws: each client finds its service's endpoint in the environment, and so do the
    environment processes, which inherit it with the template's variables)."""
    from parley import aws, config

    stack = Stack()
    session = aws.session()
    physical = create_resources(stack, session, None, LOCAL_QUEUE_OVERRIDES, existing_ok=True)
    os.environ.update({**stack.environment(physical), **LOCAL_ENVIRONMENT})
    config.reset()
    aws.reset_clients()
    gateway = Gateway(stack, in_process, default_concurrency, idle_seconds)
    local = LocalStack(stack, physical, gateway, endpoint_url=endpoint_url)
    sqs = session.client("sqs", region_name=REGION)
    local.pump = QueuePump(stack, gateway, sqs, physical, threads=pump_threads)
    if start_pump:
        local.pump.start()
    return local


def seed(dev_token: str | None) -> dict[str, Any]:
    """Data set 1 (the FiberUP sample) and the admin dev account, each created only when missing, so a
    restart on kept data changes nothing. Returns the dev account with its token."""
    from parley.dal.data_sets import DataSetRepository
    from parley.logic import data_sets
    from parley_local.samples import load_sample

    repo = DataSetRepository()
    data_set = repo.get(1)
    if data_set is None:
        data_set = repo.create("FiberUP sample", created_by=0)
        products, documents = load_sample()
        data_sets.load(data_set["id"], products, documents)
    return ensure_dev_account(dev_token, data_set["id"])


def ensure_dev_account(token: str | None, data_set_id: int) -> dict[str, Any]:
    """The admin account that `token` names (created if missing); a new account and token when None.

    Only the token's hash is stored, as for every account. A kept `dev` account whose hash differs (the
    developer changed PARLEY_DEV_TOKEN) takes the new token; another account with that id is never taken."""
    from parley.auth import hash_token, hashes_match, parse_authorization
    from parley.dal.accounts import AccountRepository
    from parley.logic import accounts
    from parley.logic.access import OPERATOR

    if token is not None:
        parsed = parse_authorization(f"Token {token}")
        if parsed is None:
            raise ValueError("PARLEY_DEV_TOKEN must look like prl_<account id>_<43 characters>")
        repo = AccountRepository()
        existing = repo.get(parsed[0])
        if existing is not None:
            if existing.get("name") != "dev":
                raise ValueError(f"PARLEY_DEV_TOKEN names account {parsed[0]}, which is not the dev account")
            if not (
                existing.get("is_active")
                and existing.get("is_admin")
                and hashes_match(token, existing.get("token_hash", ""))
            ):
                existing = repo.update(
                    parsed[0], {"token_hash": hash_token(token), "is_active": True, "is_admin": True}
                )
            return {**accounts.view(existing), "token": token}
    return accounts.create(OPERATOR, "dev", [data_set_id], is_admin=True, token=token)


def republish_missing_indexes() -> list[int]:
    """Rebuild the search index of every data set whose snapshot object is missing, from the table.

    S3 runs on moto, in memory: after a restart on kept DynamoDB data the snapshots are gone, and the
    domain's own load (with nothing new to upsert) rebuilds and publishes them. Returns the data set ids."""
    from parley import aws, config
    from parley.dal.data_sets import DataSetRepository
    from parley.logic import data_sets

    s3 = aws.client("s3")
    bucket = config.settings().index_bucket
    rebuilt = []
    for item in DataSetRepository().list_all():
        key = item.get("index_key")
        if key:
            try:
                s3.head_object(Bucket=bucket, Key=key)
                continue
            except s3.exceptions.ClientError:
                pass
        data_sets.load(item["id"], [], [])
        rebuilt.append(item["id"])
    return rebuilt


def requeue_unfinished_tasks() -> dict[str, int]:
    """Enqueue again every task a previous run left PENDING or RUNNING (its queue message died with moto).

    The group is the domain's (per conversation for answers, per data set for loads). A load
    whose payload object died with moto cannot run: it is marked FAILURE with a clear error instead.
    The local task table is small, so one Scan is fine here (never on AWS)."""
    from parley import aws, config
    from parley.dal import jobs
    from parley.dal.dynamo import from_item
    from parley.dal.tasks import FAILURE, PENDING, RUNNING, TaskRepository

    ddb, s3 = aws.client("dynamodb"), aws.client("s3")
    settings = config.settings()
    counts = {"requeued": 0, "failed": 0}
    kwargs: dict[str, Any] = {
        "TableName": settings.tasks_table,
        "FilterExpression": "#s IN (:pending, :running)",
        "ExpressionAttributeNames": {"#s": "state"},
        "ExpressionAttributeValues": {":pending": {"S": PENDING}, ":running": {"S": RUNNING}},
    }
    while True:
        page = ddb.scan(**kwargs)
        for task in (from_item(raw) for raw in page.get("Items", [])):
            kind = task["kind"]
            if kind != "answer":
                try:
                    s3.head_object(Bucket=settings.index_bucket, Key=task["payload_key"])
                except s3.exceptions.ClientError:
                    TaskRepository().finish(
                        task["task_id"],
                        FAILURE,
                        error={
                            "code": "payload_lost",
                            "message": "The local stack restarted before this load ran; please send it again.",
                        },
                    )
                    counts["failed"] += 1
                    continue
            jobs.enqueue(kind, task["task_id"], jobs.group_for(task))
            counts["requeued"] += 1
        if "LastEvaluatedKey" not in page:
            return counts
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


_data_dir_locks: list[Any] = []


def lock_data_dir(data_dir: Path) -> bool:
    """Hold an exclusive lock on the data dir for the life of this process (two DynamoDB Local processes
    on one database file would corrupt it). False when another process holds it."""
    import fcntl

    handle = open(data_dir / ".lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return False
    _data_dir_locks.append(handle)
    return True


def dev_token_path(data_dir: Path) -> Path:
    return data_dir / "dev-token"


def stored_dev_token(data_dir: Path) -> str | None:
    path = dev_token_path(data_dir)
    return path.read_text().strip() or None if path.is_file() else None


def store_dev_token(data_dir: Path, token: str) -> None:
    """Keep a generated dev token beside the data (owner-only), so it keeps working after a restart."""
    path = dev_token_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    path.chmod(0o600)


def local_state_path() -> Path:
    return Path(os.environ.get("PARLEY_LOCAL_STATE") or STATE_DIR / "local.json")


def write_local_env(local: LocalStack, api_url: str, token: str, ws_url: str | None = None) -> Path:
    """Where the CLI finds the running local stack (tables, endpoint, API URL and the dev token).

    `.parley-data/local.json` by default; PARLEY_LOCAL_STATE names another file (the tests use it)."""
    path = local_state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "api_url": api_url,
                "ws_url": ws_url,
                "token": token,
                "aws_endpoint_url": local.endpoint_url,
                "aws_endpoint_url_dynamodb": os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or local.endpoint_url,
                "environment": local.environment(),
            },
            indent=2,
        )
    )
    path.chmod(0o600)
    return path
