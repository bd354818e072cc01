"""Shared fixtures: AWS emulated in-process by moto, resources built from template.yaml, and the real
handlers reached through the same API Gateway / SQS event adapters that `make dev` uses."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.pop("AWS_ENDPOINT_URL", None)

from moto import mock_aws  # noqa: E402

from parley import aws, config  # noqa: E402
from parley.logic import accounts, index_cache  # noqa: E402
from parley_local import stack as local_stack  # noqa: E402
from parley_local.emulation import strict_fifo  # noqa: E402
from parley_local.runtime import Gateway, HttpResponse  # noqa: E402
from parley_local.template import Stack  # noqa: E402


@pytest.fixture(scope="session")
def template_stack() -> Stack:
    return Stack()


@pytest.fixture(scope="session")
def gateway(template_stack: Stack) -> Gateway:
    return Gateway(template_stack)


@pytest.fixture
def cloud(gateway: Gateway):
    """A fresh emulated AWS account with every table, queue and bucket of the template."""
    strict_fifo()  # as the emulation process of `make dev` does
    with mock_aws():
        local_stack.use_emulated_aws(None)
        os.environ.pop("AWS_ENDPOINT_URL", None)
        local = local_stack.build(None, start_pump=False)
        local.gateway = gateway
        local.pump.pool = gateway.pools[local.pump.consumer]
        gateway.clear_authorizer_cache()
        index_cache.clear()
        yield local
        aws.reset_clients()
        config.reset()
        index_cache.clear()
        gateway.clear_authorizer_cache()


class Api:
    """Calls the API the way a client does, through the gateway adapter (authorizer included)."""

    def __init__(self, gateway: Gateway, token: str | None):
        self.gateway = gateway
        self.token = token

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = "default",
             headers: dict[str, str] | None = None, raw: bytes | None = None) -> HttpResponse:
        sent = {"content-type": "application/json"}
        token = self.token if token == "default" else token
        if token is not None:
            sent["authorization"] = f"Token {token}"
        sent.update(headers or {})
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        return self.gateway.handle(method, path, list(sent.items()), data)

    def get(self, path: str, **kw: Any) -> HttpResponse:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> HttpResponse:
        return self.call("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> HttpResponse:
        return self.call("PATCH", path, body, **kw)


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
        created = accounts.create(name, list(data_set_ids), is_admin=False)
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
        handled = 0
        for _ in range(max_batches):
            count = cloud.pump.drain_once(0)
            if not count:
                break
            handled += count
        return handled

    return run
