"""Starts the whole local stack: AWS emulation, resources from template.yaml, sample data, gateway, pump."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parley_local.resources import REGION, create_resources
from parley_local.runtime import Gateway, QueuePump
from parley_local.template import ROOT, Stack

STATE_DIR = ROOT / ".parley-data"

# Locally a failed job is retried after seconds, not the deployed queue's 180 s visibility timeout.
LOCAL_QUEUE_OVERRIDES = {"JobsQueue": {"VisibilityTimeout": "5"}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def use_emulated_aws(endpoint_url: str | None) -> None:
    """Point every boto3 client of this process (the handlers' too) at the emulation, with dummy keys."""
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    })
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url


@dataclass
class LocalStack:
    stack: Stack
    physical: dict[str, dict[str, str]]
    gateway: Gateway
    pump: QueuePump | None = None
    endpoint_url: str | None = None
    _servers: list[Any] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        return self.stack.environment(self.physical)

    def stop(self) -> None:
        if self.pump:
            self.pump.stop()
        for server in self._servers:
            server.stop()


def start_emulation() -> tuple[Any, str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"


def build(endpoint_url: str | None, pump_threads: int = 2, start_pump: bool = True) -> LocalStack:
    """Create the resources and wire the gateway and queue pump (AWS clients must already be emulated)."""
    import boto3

    from parley import aws, config

    stack = Stack()
    session = boto3.session.Session()
    physical = create_resources(stack, session, endpoint_url, LOCAL_QUEUE_OVERRIDES)
    os.environ.update(stack.environment(physical))
    config.reset()
    aws.reset_clients()
    gateway = Gateway(stack)
    local = LocalStack(stack, physical, gateway, endpoint_url=endpoint_url)
    sqs = session.client("sqs", region_name=REGION, endpoint_url=endpoint_url)
    local.pump = QueuePump(stack, gateway, sqs, physical, threads=pump_threads)
    if start_pump:
        local.pump.start()
    return local


def seed(dev_token: str | None) -> dict[str, Any]:
    """Load the FiberUP sample as data set 1 and create the admin dev account; returns the account."""
    from parley.dal.data_sets import DataSetRepository
    from parley.logic import accounts, data_sets
    from parley.sample import load_sample

    repo = DataSetRepository()
    data_set = repo.get(1) or repo.create("FiberUP sample", created_by=0)
    products, documents = load_sample()
    data_sets.load(data_set["id"], products, documents)
    return accounts.create("dev", [data_set["id"]], is_admin=True, token=dev_token)


def local_state_path() -> Path:
    return Path(os.environ.get("PARLEY_LOCAL_STATE") or STATE_DIR / "local.json")


def write_local_env(local: LocalStack, api_url: str, token: str) -> Path:
    """Where the CLI finds the running local stack (tables, endpoint, API URL and the dev token).

    `.parley-data/local.json` by default; PARLEY_LOCAL_STATE names another file (the tests use it)."""
    path = local_state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "api_url": api_url,
        "token": token,
        "aws_endpoint_url": local.endpoint_url,
        "environment": local.environment(),
    }, indent=2))
    path.chmod(0o600)
    return path
