"""`make fuzz`: property-based fuzzing of the API against its own OpenAPI document (schemathesis + Hypothesis).

The document is read from the running stack (`GET /api/openapi.json`). For every operation Hypothesis generates
valid requests (positive) and requests that break the document (negative: wrong types, missing fields, bad
paths, no token), each is sent over HTTP with the caller's token and the response is checked: no 5xx, a
documented status code, a documented content type, a body that matches the documented schema, documented
headers. Then every question and load the API accepted (202) must be finished by the worker with SUCCESS:
input that passes validation may not fail later. Generation is seeded, so a run with the same seed and
document sends the same requests.

Many generated path ids name nothing (a 404); to reach the success paths too, each path parameter also takes
real values some of the time: data set 1, a data set, conversation, service account and task that this run
creates first. Requests that change things (settings, loads, account updates and token resets) never reach a
data set or account that existed before the run: their ids are swapped for the run's own, so fuzzing cannot
disable the caller, reset its token or change what the sample data set answers. An answer provider other than
`extractive` is never stored (the worker would call that provider's URL when answering).

`python -m parley_local.fuzz` (`make fuzz`) starts a throwaway stack (DynamoDB Local in memory; `--moto`), or
with `--running` uses the `make dev` stack named in `.parley-data/local.json`; it prints one line per
operation and a summary, and exits non-zero when a check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from parley_local.children import stop_process

SAMPLE_DATA_SET_ID = 1
# Operations whose path id names something they change: never one that existed before the run.
MUTATING = {
    "DELETE /api/conversations/{conversation_id}",
    "PATCH /api/data_sets/{data_set_id}/settings",
    "POST /api/data_sets/{data_set_id}/documents",
    "POST /api/data_sets/{data_set_id}/products",
    "PATCH /api/service_accounts/{account_id}",
    "POST /api/service_accounts/{account_id}/reset_token",
}
SETTINGS = "PATCH /api/data_sets/{data_set_id}/settings"
NETWORK_PROVIDERS = ("bedrock", "openai")


@dataclass
class Finding:
    operation: str
    check: str
    message: str
    status: int | None
    curl: str
    count: int = 1


@dataclass
class Report:
    cases: Counter = field(default_factory=Counter)  # operation -> requests sent
    successes: Counter = field(default_factory=Counter)  # operation -> 2xx responses
    statuses: Counter = field(default_factory=Counter)  # status code -> responses
    findings: dict[tuple[str, str], Finding] = field(default_factory=dict)
    accepted_tasks: dict[str, str] = field(default_factory=dict)  # task id -> the curl that queued it
    task_states: Counter = field(default_factory=Counter)  # final state of each accepted task
    elapsed: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.cases.values())

    def add_finding(self, operation: str, check: str, message: str, status: int | None, curl: str) -> None:
        key = (operation, check)
        if key in self.findings:
            self.findings[key].count += 1
        else:
            self.findings[key] = Finding(operation, check, message, status, curl)


@dataclass
class RealIds:
    """Ids that exist, to put into path parameters, and the ones a change must never reach."""

    read: dict[str, list[str]]
    write: dict[str, list[str]]
    protected: dict[str, set[str]]


def _all_ids(client: httpx.Client, path: str) -> set[str]:
    ids: set[str] = set()
    cursor = None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = client.get(path, params=params)
        page.raise_for_status()
        body = page.json()
        ids.update(str(item["id"]) for item in body["results"])
        cursor = body.get("next_cursor")
        if not cursor:
            return ids


def prepare(url: str, token: str) -> RealIds:
    """Record what exists, then create this run's own data set, conversations, service account and task."""
    with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Token {token}"}) as client:
        protected = {
            "data_set_id": _all_ids(client, "/api/data_sets"),
            "account_id": _all_ids(client, "/api/service_accounts"),
        }

        def created(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = client.post(path, json=body)
            if response.status_code >= 300:
                raise RuntimeError(f"POST {path} answered {response.status_code}: {response.text}")
            return response.json()

        own_data_set = str(created("/api/data_sets", {"name": "fuzz target"})["id"])
        conversations = [
            str(created("/api/conversations", {"data_set_id": data_set_id})["id"])
            for data_set_id in (SAMPLE_DATA_SET_ID, int(own_data_set))
        ]
        # Deletes reach only conversations made for them, so the questions sent to the others stay answerable.
        doomed = [str(created("/api/conversations", {"data_set_id": SAMPLE_DATA_SET_ID})["id"]) for _ in range(3)]
        account = str(created("/api/service_accounts", {"name": "fuzz target", "data_set_ids": []})["id"])
        task = created(
            f"/api/conversations/{conversations[0]}",
            {"question_message": "Does FiberUP Business Duplex include an SLA?"},
        )["task_id"]
    read = {
        "data_set_id": [str(SAMPLE_DATA_SET_ID), own_data_set],
        "conversation_id": conversations,
        "account_id": [account],
        "task_id": [task],
        "asset": ["swagger-ui.css", "swagger-init.js"],
    }
    write = {**read, "data_set_id": [own_data_set], "conversation_id": doomed}
    return RealIds(read=read, write=write, protected={**protected, "conversation_id": set(conversations)})


def _keep_changes_on_own_resources(label: str, case: Any, ids: RealIds) -> None:
    if label in MUTATING:
        for name, value in list(case.path_parameters.items()):
            if str(value) in ids.protected.get(name, ()):
                case.path_parameters[name] = ids.write[name][0]
    if label == SETTINGS and isinstance(case.body, dict) and case.body.get("provider") in NETWORK_PROVIDERS:
        case.body = {**case.body, "provider": "extractive"}


def _strategy(operation: Any, mode: Any, ids: RealIds):
    from hypothesis import strategies as st

    generated = operation.as_strategy(generation_mode=mode)
    names = [p.name for p in operation.path_parameters]
    pool = ids.write if operation.label in MUTATING else ids.read
    if len(names) != 1 or names[0] not in pool:  # every path of ours has at most one parameter
        return generated
    # Half of the ids are real ones: one strategy per real value, and the generated one weighted alike.
    fixed = [operation.as_strategy(generation_mode=mode, path_parameters={names[0]: value}) for value in pool[names[0]]]
    return st.one_of(*([generated] * len(fixed)), *fixed)


def _sender(label: str, url: str, auth: dict[str, str], session: Any, checks: list, ids: RealIds, report: Report):
    """The Hypothesis test body for one operation: send the case, check the answer, record what failed."""
    from schemathesis.core.failures import FailureGroup

    def send(case: Any) -> None:
        _keep_changes_on_own_resources(label, case, ids)
        report.cases[label] += 1
        try:
            response = case.call(base_url=url, session=session, headers=auth, timeout=60)
        except Exception as exc:  # a dropped connection is a server failure too
            report.add_finding(label, "request failed", repr(exc), None, case.as_curl_command(headers=auth))
            return
        report.statuses[response.status_code] += 1
        if 200 <= response.status_code < 300:
            report.successes[label] += 1
        if response.status_code == 202 and isinstance(task_id := _json(response).get("task_id"), str):
            report.accepted_tasks[task_id] = case.as_curl_command(headers=auth)
        try:
            case.validate_response(response, checks=checks, headers=auth)
        except FailureGroup as group:
            for failure in group.exceptions:
                report.add_finding(
                    label, failure.title, failure.message, response.status_code, case.as_curl_command(headers=auth)
                )

    return send


def _json(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def check_tasks(url: str, token: str, report: Report, timeout: float) -> None:
    """Every question or load the API accepted (202) must be finished by the worker, and successfully: input
    the API lets through may not fail later (a FAILURE here is a finding, as is a task still PENDING)."""
    pending = dict(report.accepted_tasks)
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Token {token}"}) as client:
        while pending:
            for task_id in list(pending):
                status = client.get(f"/api/task_status/{task_id}").json()
                if status.get("state") in ("SUCCESS", "FAILURE"):
                    report.task_states[status["state"]] += 1
                    curl = pending.pop(task_id)
                    if status["state"] == "FAILURE":
                        report.add_finding(
                            f"worker ({status.get('kind')})",
                            "accepted task failed",
                            json.dumps(status.get("error")),
                            None,
                            curl,
                        )
            if pending and time.monotonic() > deadline:
                report.task_states["PENDING"] += len(pending)
                for curl in pending.values():
                    report.add_finding("worker", f"accepted task still PENDING after {timeout:.0f} s", "", None, curl)
                return
            time.sleep(0.5 if pending else 0)


def run(
    url: str,
    token: str,
    examples: int = 30,
    negative_examples: int | None = None,
    seed: int = 0,
    operations: list[str] | None = None,
    progress: Any = None,
    extra_checks: tuple[str, ...] = (),
    task_timeout: float = 120,
) -> Report:
    """Fuzz every operation of the stack's document; `examples` valid and `negative_examples` invalid requests
    each (Hypothesis may send fewer when an operation has few distinct inputs)."""
    import hypothesis
    import requests
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        response_headers_conformance,
    ]
    checks += [getattr(schemathesis.checks, name) for name in extra_checks]
    auth = {"Authorization": f"Token {token}"}
    ids = prepare(url, token)
    schema = schemathesis.openapi.from_url(f"{url}/api/openapi.json", headers=auth)
    report = Report()
    started = time.monotonic()
    negative_examples = max(1, examples // 2) if negative_examples is None else negative_examples
    session = requests.Session()
    for result in schema.get_all_operations():
        operation = result.ok()
        label = operation.label
        if operations and label not in operations:
            continue
        for mode, count in ((GenerationMode.POSITIVE, examples), (GenerationMode.NEGATIVE, negative_examples)):
            if count <= 0:
                continue
            send = _sender(label, url, auth, session, checks, ids, report)
            send = given(case=_strategy(operation, mode, ids))(send)
            send = settings(
                max_examples=count,
                database=None,
                deadline=None,
                print_blob=False,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )(send)
            try:
                hypothesis.seed(seed)(send)()
            except hypothesis.errors.Unsatisfiable:
                pass  # nothing to break: an operation without parameters, body or token (the docs page)
            if progress:
                progress(label, mode.value, report)
    session.close()
    check_tasks(url, token, report, task_timeout)
    report.elapsed = time.monotonic() - started
    return report


def finding_lines(finding: Finding) -> list[str]:
    return [
        f"FAIL {finding.operation}: {finding.check} ({finding.count} request(s), status {finding.status})",
        f"     {finding.message[:500]}",
        f"     {finding.curl[:1000]}",
    ]


def summary_lines(report: Report) -> list[str]:
    lines = [
        f"{label:<55} {report.cases[label]:>6} requests {report.successes[label]:>5} 2xx"
        for label in sorted(report.cases)
    ]
    statuses = ", ".join(f"{status}: {n}" for status, n in sorted(report.statuses.items()))
    lines.append(f"{report.total} requests to {len(report.cases)} operations in {report.elapsed:.1f} s ({statuses})")
    states = ", ".join(f"{state}: {n}" for state, n in sorted(report.task_states.items())) or "none"
    lines.append(f"{len(report.accepted_tasks)} accepted questions and loads, finished by the worker as: {states}")
    for finding in report.findings.values():
        lines += finding_lines(finding)
    lines.append("fuzz check: " + ("passed" if not report.findings else f"{len(report.findings)} finding(s)"))
    return lines


@contextmanager
def own_stack(moto: bool) -> Iterator[dict[str, Any]]:
    """A throwaway stack (`python -m parley_local --in-memory`, or `--moto`) on a free port: whatever the fuzzer
    creates (hundreds of data sets and accounts) is gone when it stops. Yields its local.json."""
    from parley_local.stack import free_port

    with tempfile.TemporaryDirectory(prefix="parley-fuzz-") as tmp:
        state_path, log_path = Path(tmp) / "local.json", Path(tmp) / "stack.log"
        env = {**os.environ, "PORT": str(free_port()), "PARLEY_LOCAL_STATE": str(state_path)}
        for name in ("PARLEY_DEV_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
            env.pop(name, None)
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "parley_local",
                    "--moto" if moto else "--in-memory",
                    "--data-dir",
                    str(Path(tmp) / "data"),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 120
            while not (state_path.exists() and _answers(json.loads(state_path.read_text())["api_url"])):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the local stack did not start:\n{log_path.read_text()}")
                time.sleep(0.3)
            yield json.loads(state_path.read_text())
        finally:
            stop_process(process, timeout=20)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/openapi.json", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def main(argv: list[str] | None = None) -> int:
    from parley_local.stack import local_state_path

    parser = argparse.ArgumentParser(
        prog="parley-fuzz", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=500, help="valid requests per operation (default 500)")
    parser.add_argument(
        "--negative-examples",
        type=int,
        default=None,
        help="invalid requests per operation (default: half of --examples)",
    )
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis seed (default 0)")
    parser.add_argument(
        "--operation", action="append", default=None, help='only this operation, e.g. "GET /api/data_sets" (repeatable)'
    )
    parser.add_argument(
        "--check",
        action="append",
        default=[],
        metavar="NAME",
        help="another schemathesis check, e.g. positive_data_acceptance (repeatable; these "
        "stricter ones also flag semantic 4xx the document cannot express)",
    )
    parser.add_argument(
        "--running",
        action="store_true",
        help="fuzz the running `make dev` stack (its data keeps what the fuzzer creates) instead of a throwaway one",
    )
    parser.add_argument("--moto", action="store_true", help="the throwaway stack on moto, not DynamoDB Local")
    parser.add_argument(
        "--state-file",
        type=Path,
        default=None,
        help="with --running: the stack's local.json (default: .parley-data/local.json)",
    )
    args = parser.parse_args(argv)

    def progress(label: str, mode: str, report: Report) -> None:
        print(f"  {label} ({mode}): {report.cases[label]} requests so far", flush=True)

    def fuzz(state: dict[str, Any]) -> int:
        print(f"fuzzing {state['api_url']}: {args.examples} valid requests per operation, seed {args.seed}", flush=True)
        report = run(
            state["api_url"],
            state["token"],
            args.examples,
            args.negative_examples,
            args.seed,
            args.operation,
            progress,
            tuple(args.check),
        )
        print("\n".join(summary_lines(report)))
        return 0 if not report.findings else 1

    if not args.running:
        with own_stack(args.moto) as state:
            return fuzz(state)
    state_file = args.state_file or local_state_path()
    state = json.loads(state_file.read_text()) if state_file.exists() else None
    if state is None or not _answers(state["api_url"]):
        print(f"no running local stack ({state_file}): start `make dev` first, or drop --running", file=sys.stderr)
        return 2
    return fuzz(state)


if __name__ == "__main__":
    sys.exit(main())
