"""Shared fixtures: AWS emulated in-process by moto, resources built from template.yaml, and the real
handlers reached through the same API Gateway / SQS event adapters that `make dev` uses."""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.pop("AWS_ENDPOINT_URL", None)

from parley import config  # noqa: E402
from parley.logic import accounts  # noqa: E402
from parley.logic.access import OPERATOR  # noqa: E402
from parley_local import stack as local_stack  # noqa: E402
from parley_local.emulated import Api, emulated_cloud  # noqa: E402, F401 (Api: the tests' client)
from parley_local.emulated import drain as drain_queue  # noqa: E402
from parley_local.runtime import Gateway  # noqa: E402
from parley_local.template import Stack  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_settings():
    """Settings are read once per process; a test that changes the environment (monkeypatch) leaves none behind."""
    yield
    config.reset()


@pytest.fixture(scope="session")
def template_stack() -> Stack:
    return Stack()


@pytest.fixture(scope="session")
def gateway(template_stack: Stack) -> Gateway:
    return Gateway(template_stack)


@pytest.fixture
def cloud(gateway: Gateway):
    """A fresh emulated AWS account with every table, queue and bucket of the template."""
    with emulated_cloud(gateway) as local:
        yield local


@pytest.fixture
def sample(cloud) -> dict[str, Any]:
    """FiberUP loaded as data set 1 and the admin dev account (as `make dev` does)."""
    return local_stack.seed(None)


@pytest.fixture
def admin(gateway: Gateway, sample: dict[str, Any]) -> Api:
    return Api(gateway, sample["token"])


@pytest.fixture
def make_user(gateway: Gateway, sample: dict[str, Any]):
    """A factory of non-admin accounts with access to the given data sets."""

    def make(data_set_ids: list[int] = (1,), name: str = "user") -> Api:
        created = accounts.create(OPERATOR, name, list(data_set_ids), is_admin=False)
        api = Api(gateway, created["token"])
        api.account = created
        return api

    return make


@pytest.fixture
def user(make_user) -> Api:
    return make_user([1])


@pytest.fixture
def drain(cloud):
    """Run the worker over everything queued (as the SQS event source would), until the queue is empty."""

    def run(max_batches: int = 50) -> int:
        return drain_queue(cloud, max_batches)

    return run
