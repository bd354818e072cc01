"""Shared fixtures: AWS emulated in-process by moto, resources built from template.yaml, and the real
handlers reached through the same API Gateway / SQS event adapters that `make dev` uses."""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.pop("AWS_ENDPOINT_URL", None)

# moto's request stubber joins botocore's built-in handlers on this import: done before any boto3 session exists
# (an integration test's --direct CLI call makes one), so every later session is intercepted inside mock_aws.
import moto.core.models  # noqa: F401

from parley import config
from parley.logic import accounts
from parley.logic.access import OPERATOR
from parley_local import stack as local_stack
from parley_local.emulated import (
    Api,
    drain as drain_queue,
    emulated_cloud,
)
from parley_local.iam import IamEmulation
from parley_local.runtime import Gateway
from parley_local.template import Stack

IAM = IamEmulation()
IAM.install()  # every AWS call a function makes is checked against its template policy, as on AWS


@pytest.fixture(autouse=True)
def fresh_settings():
    """Settings are read once per process; a test that changes the environment (monkeypatch) leaves none behind."""
    yield
    config.reset()


@pytest.fixture
def stack_names(monkeypatch):
    """The stack's resource names Settings requires, for a test that builds no stack (run alone, nothing else has
    set them): names only, nothing is reached through them."""
    for name in config.REQUIRED:
        if not os.environ.get(name):
            monkeypatch.setenv(name, "unused-here")
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


def _ran_every_unit_test(session: pytest.Session) -> bool:
    """True when this run collected every unit test file, unfiltered (only then is an unused grant news)."""
    from pathlib import Path

    options = session.config.option
    if options.keyword or options.markexpr or getattr(options, "lf", False) or options.deselect:
        return False
    collected = {Path(str(item.path)) for item in session.items}
    unit = Path(__file__).parent / "unit"
    return all(path in collected for path in unit.glob("test_*.py") if path.name != "__init__.py")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After a whole-suite run, a grant that no function call needed fails the run (least privilege)."""
    if os.environ.get("PARLEY_IAM_REPORT"):  # the unused grants of any run, for a look (never fails it)
        for function, grants in IAM.unused().items():
            session.config.get_terminal_writer().line(f"unused by this run: {function}: {grants}")
    if exitstatus != 0 or not _ran_every_unit_test(session):
        return
    unused = IAM.unused()
    if unused:
        lines = [f"  {fn}: {action} on {resource}" for fn, grants in unused.items() for action, resource in grants]
        session.config.get_terminal_writer().line(
            "template.yaml grants what no call in the suite needed:\n" + "\n".join(lines), red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
