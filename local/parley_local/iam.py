"""IAM for the emulated functions: each AWS call a function makes is checked against its template policy.

moto does not enforce IAM, so a call the template forgot to grant would pass every test and then be
AccessDenied on AWS. `IamEmulation.install()` adds a botocore hook to every client created afterwards: the
call is turned into the IAM actions and resource ARNs AWS authorises it by (a TransactWriteItems is one
PutItem/UpdateItem/... per item, a HeadObject is s3:GetObject, ...), checked against the policy of the
function that is running (a context variable set around each invocation), refused with AccessDenied when
not granted, and recorded, so a whole-suite run can also report grants no call used.
"""

from __future__ import annotations

import contextvars
import functools
import re
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

from parley_local.resources import ACCOUNT, REGION
from parley_local.template import PSEUDO_PARAMETERS, Stack

PARTITION = "aws"
current_function: contextvars.ContextVar[str | None] = contextvars.ContextVar("iam_function", default=None)

# Operations authorised by another action than their own name.
_ACTION_OF = {
    ("sqs", "SendMessageBatch"): "SendMessage",
    ("sqs", "DeleteMessageBatch"): "DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "ChangeMessageVisibility",
    ("s3", "HeadObject"): "GetObject",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "DeleteObjects"): "DeleteObject",
    ("bedrock", "Converse"): "InvokeModel",
    ("bedrock", "ConverseStream"): "InvokeModelWithResponseStream",
}
_TRANSACT_ACTION = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


class AccessDenied(Exception):
    pass


def _table_arn(name: str, index: str | None = None) -> str:
    arn = f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    return f"{arn}/index/{index}" if index else arn


def _queue_arn(url: str) -> str:
    return f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{urlparse(url).path.rstrip('/').rsplit('/', 1)[-1]}"


_CONNECTION_METHOD = {"PostToConnection": "POST", "GetConnection": "GET", "DeleteConnection": "DELETE"}


def requested(prefix: str, operation: str, params: dict[str, Any], endpoint_url: str = "") -> list[tuple[str, str]]:
    """The (action, resource ARN) pairs AWS checks for one API call."""
    action = f"{prefix}:{_ACTION_OF.get((prefix, operation), operation)}"
    if prefix == "execute-api":
        return [_connection_requested(operation, params, endpoint_url)]
    if prefix == "dynamodb":
        return _dynamodb_requested(action, operation, params)
    if prefix == "sqs":
        return [(action, _queue_arn(params["QueueUrl"]))]
    if prefix == "s3":
        return _s3_requested(action, operation, params)
    if prefix == "secretsmanager":
        secret = params["SecretId"]
        if not secret.startswith("arn:"):  # AWS appends six random characters to a secret's name
            secret = f"arn:{PARTITION}:secretsmanager:{REGION}:{ACCOUNT}:secret:{secret}-AbCdEf"
        return [(action, secret)]
    if prefix == "bedrock":
        model = params["modelId"]
        if not model.startswith("arn:"):
            model = f"arn:{PARTITION}:bedrock:{REGION}::foundation-model/{model}"
        return [(action, model)]
    return [(action, "*")]


def _connection_requested(operation: str, params: dict[str, Any], endpoint_url: str) -> tuple[str, str]:
    """The WebSocket @connections API, its endpoint https://<api id>.execute-api.../<stage>."""
    endpoint = urlparse(endpoint_url)
    api, stage = (endpoint.hostname or "").split(".")[0], endpoint.path.strip("/").split("/")[0]
    method = _CONNECTION_METHOD.get(operation, operation)
    return (
        "execute-api:ManageConnections",
        f"arn:{PARTITION}:execute-api:{REGION}:{ACCOUNT}:{api}/{stage}/{method}/@connections/"
        f"{params.get('ConnectionId', '')}",
    )


def _dynamodb_requested(action: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    if operation in ("TransactWriteItems", "TransactGetItems"):
        return [
            (f"dynamodb:{_TRANSACT_ACTION[kind]}", _table_arn(op["TableName"]))
            for item in params.get("TransactItems", [])
            for kind, op in item.items()
        ]
    if operation in ("BatchWriteItem", "BatchGetItem"):
        return [(action, _table_arn(table)) for table in params.get("RequestItems", {})]
    return [(action, _table_arn(params["TableName"], params.get("IndexName")))]


def _s3_requested(action: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    bucket = params["Bucket"]
    if operation == "DeleteObjects":
        return [(action, f"arn:{PARTITION}:s3:::{bucket}/{o['Key']}") for o in params["Delete"]["Objects"]]
    if "Key" in params:
        return [(action, f"arn:{PARTITION}:s3:::{bucket}/{params['Key']}")]
    return [(action, f"arn:{PARTITION}:s3:::{bucket}")]


def _pattern(text: str) -> re.Pattern:
    """IAM's wildcards: `*` any run of characters, `?` one character; actions compare case-insensitively."""
    return re.compile(
        "^" + ".*".join(".".join(map(re.escape, part.split("?"))) for part in text.split("*")) + "$", re.IGNORECASE
    )


class _Resolver:
    """Evaluates the intrinsic functions a policy uses, with parameter defaults and the local resources."""

    def __init__(self, stack: Stack, physical: dict[str, dict[str, str]]):
        self.stack = stack
        self.physical = physical
        self.pseudo = {**PSEUDO_PARAMETERS, "AWS::NoValue": None}
        self.conditions = self.stack.template.get("Conditions", {})

    def ref(self, name: str, attribute: str = "Ref") -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.physical:
            return self.physical[name][attribute]
        if name in self.stack.resources:  # not made locally (the WebSocket API): any name stands for it
            return "*"
        parameter = self.stack.template["Parameters"][name]
        default = parameter.get("Default")
        if parameter["Type"] == "CommaDelimitedList" and isinstance(default, str):
            return [part.strip() for part in default.split(",")]
        return default

    def __call__(self, value: Any, variables: dict[str, Any] | None = None) -> Any:
        if isinstance(value, list):
            resolved = [self(v, variables) for v in value]
            return [v for v in resolved if v is not None]
        if not isinstance(value, dict):
            return value
        if len(value) != 1 or not next(iter(value)).startswith(("Ref", "Fn::", "Condition")):
            return {k: self(v, variables) for k, v in value.items()}
        ((key, arg),) = value.items()
        return self.intrinsic(key, arg)

    def intrinsic(self, key: str, arg: Any) -> Any:
        """One intrinsic function, `{key: arg}`."""
        if key == "Ref":
            return self.ref(arg)
        if key == "Fn::GetAtt":
            return self.ref(arg[0], arg[1])
        if key == "Fn::Sub":
            return self.sub(arg)
        if key == "Fn::Join":
            return arg[0].join(str(v) for v in self(arg[1]))
        if key == "Fn::Split":
            return self(arg[1]).split(arg[0])
        if key == "Fn::Select":
            return self(arg[1])[int(self(arg[0]))]
        if key == "Fn::If":
            return self(arg[1] if self.condition(arg[0]) else arg[2])
        if key == "Fn::Equals":
            return self(arg[0]) == self(arg[1])
        if key == "Fn::Not":
            return not self(arg[0])
        if key == "Condition":
            return self.condition(arg)
        raise ValueError(f"unsupported intrinsic function {key} in a policy")

    def sub(self, arg: str | list[Any]) -> str:
        text, local = (arg, {}) if isinstance(arg, str) else (arg[0], {k: self(v) for k, v in arg[1].items()})

        def substitute(match: re.Match) -> str:
            name = match.group(1)
            if name in local:
                return str(local[name])
            if "." in name:
                return str(self.ref(*name.split(".", 1)))
            found = self.ref(name)
            return ",".join(found) if isinstance(found, list) else str(found)

        return re.sub(r"\$\{([A-Za-z0-9:.]+)\}", substitute, text)

    def condition(self, name: str) -> bool:
        return bool(self(self.conditions[name]))


class IamEmulation:
    def __init__(self, stack: Stack | None = None):
        self.stack = stack or Stack()
        self._lock = threading.Lock()
        self._policies: dict[str, list[tuple[re.Pattern, re.Pattern, str, str]]] = {}
        self._physical: dict[str, dict[str, str]] | None = None
        self.used: dict[str, set[tuple[str, str]]] = defaultdict(set)  # function -> (action, grant resource)
        self.denied: list[tuple[str, str, str]] = []

    def use_resources(self, physical: dict[str, dict[str, str]]) -> None:
        """The local names of the template's resources (policies name them by logical id)."""
        with self._lock:
            if physical != self._physical:
                self._physical = dict(physical)
                self._policies.clear()

    def grants(self, function: str) -> list[tuple[re.Pattern, re.Pattern, str, str]]:
        """(action pattern, resource pattern, action, grant) of every Allow in the function's policies."""
        with self._lock:
            if function not in self._policies:
                resolve = _Resolver(self.stack, self._physical or {})
                found = []
                for number, statement in enumerate(
                    s
                    for policy in self.stack.resources[function]["Properties"].get("Policies", [])
                    for s in policy["Statement"]
                ):
                    if statement["Effect"] != "Allow":
                        continue
                    actions, resources = resolve(statement["Action"]), resolve(statement["Resource"])
                    resources = resources if isinstance(resources, list) else [resources]
                    # a grant is an action of a statement: one used resource of a list (the Bedrock models of
                    # a parameter) uses it
                    grant = f"statement {number + 1}: " + ", ".join(resources)
                    for action in actions if isinstance(actions, list) else [actions]:
                        for resource in resources:
                            found.append((_pattern(action), _pattern(resource), action, grant))
                self._policies[function] = found
            return self._policies[function]

    def check(self, function: str, prefix: str, operation: str, params: dict[str, Any], endpoint_url: str = "") -> None:
        """Raise AccessDenied unless the function's policy allows every action the call needs."""
        for action, resource in requested(prefix, operation, params, endpoint_url):
            match = next(
                ((a, r) for ap, rp, a, r in self.grants(function) if ap.match(action) and rp.match(resource)), None
            )
            if match is None:
                with self._lock:
                    self.denied.append((function, action, resource))
                raise AccessDenied(f"{function} is not authorized to perform {action} on {resource}")
            with self._lock:
                self.used[function].add(match)

    def unused(self) -> dict[str, list[tuple[str, str]]]:
        """The grants no recorded call needed, per function."""
        out = {}
        for function in self.stack.functions():
            left = {(a, r) for _, _, a, r in self.grants(function)} - self.used.get(function, set())
            if left:
                out[function] = sorted(left)
        return out

    @contextmanager
    def running(self, function: str) -> Iterator[None]:
        token = current_function.set(function)
        try:
            yield
        finally:
            current_function.reset(token)

    def install(self) -> None:
        """Check every call of clients created from now on, and attribute invocations to their function."""
        import boto3.session
        from botocore.exceptions import ClientError

        from parley_local import runtime

        emulation = self
        original_client = boto3.session.Session.client

        def before_parameter_build(params: dict, model: Any, endpoint_url: str = "", **_: Any) -> None:
            function = current_function.get()
            if function is None:  # the test itself, the seed or the queue pump: not a function's role
                return
            prefix = model.service_model.signing_name or model.service_model.endpoint_prefix
            try:
                emulation.check(function, prefix, model.name, params, endpoint_url)
            except AccessDenied as denied:
                code = (
                    "AccessDeniedException" if prefix in ("dynamodb", "bedrock", "secretsmanager") else "AccessDenied"
                )
                raise ClientError(
                    {"Error": {"Code": code, "Message": str(denied)}, "ResponseMetadata": {"HTTPStatusCode": 403}},
                    model.name,
                ) from None

        def client(session: Any, *args: Any, **kwargs: Any) -> Any:
            made = original_client(session, *args, **kwargs)
            made.meta.events.register(
                "before-parameter-build", functools.partial(before_parameter_build, endpoint_url=made.meta.endpoint_url)
            )
            return made

        boto3.session.Session.client = client

        original_invoke = runtime.FunctionPool.invoke

        def invoke(pool: Any, event: dict) -> Any:
            with emulation.running(pool.function.logical_id):
                return original_invoke(pool, event)

        runtime.FunctionPool.invoke = invoke

        from parley_local import stack as local_stack

        original_build = local_stack.build

        def build(*args: Any, **kwargs: Any) -> Any:
            local = original_build(*args, **kwargs)
            emulation.use_resources(local.physical)  # the names policies resolve to, for each fresh stack
            return local

        local_stack.build = build
