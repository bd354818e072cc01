"""Reads template.yaml (with CloudFormation's short tags) into what the local stack needs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns `!Ref X` into {"Ref": X}, `!GetAtt A.B` into {"Fn::GetAtt": [A, B]}, etc."""


def _tag(tag: str):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {"Ref" if tag == "Ref" else f"Fn::{tag}": value}

    return construct


for _name in (
    "Ref",
    "GetAtt",
    "Sub",
    "Join",
    "If",
    "Equals",
    "Select",
    "Split",
    "FindInMap",
    "ImportValue",
    "Not",
    "And",
    "Or",
    "Base64",
    "GetAZs",
    "Condition",
):
    _CfnLoader.add_constructor(f"!{_name}", _tag(_name))


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The parsed template (a fresh copy: callers may modify it), parsed once per file version."""
    import copy

    stat = path.stat()
    return copy.deepcopy(_parse(path, stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=4)
def _parse(path: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as in the template: /api/conversations/{conversation_id}
    function: str  # logical id of the function
    regex: re.Pattern = field(compare=False)
    public: bool = False  # the event sets `Auth: {Authorizer: NONE}`: API Gateway runs no authorizer

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, path: str) -> dict[str, str] | None:
        found = self.regex.match(path)
        return None if found is None else found.groupdict()


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_dir: Path
    handler: str
    memory_mb: int
    timeout_s: int
    reserved_concurrency: int | None = None  # ReservedConcurrentExecutions: the most environments at once


# CloudFormation's pseudo parameters as the local stack sees them (the stack name of samconfig.toml).
PSEUDO_PARAMETERS = {
    "AWS::StackName": "parley",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}


def _route_regex(path: str) -> re.Pattern:
    pattern = re.sub(r"\\\{([A-Za-z_][A-Za-z0-9_]*)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
    return re.compile(f"^{pattern}$")


class Stack:
    """The parts of the template that the local stack and the tests use."""

    def __init__(self, template: dict[str, Any] | None = None):
        self.template = template or load_template()
        self.resources: dict[str, Any] = self.template["Resources"]
        self.globals: dict[str, Any] = self.template.get("Globals", {}).get("Function", {})

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: res for name, res in self.resources.items() if res["Type"] == kind}

    def parameter_default(self, name: str) -> Any:
        return self.template.get("Parameters", {}).get(name, {}).get("Default")

    def functions(self) -> dict[str, Function]:
        found = {}
        for name, res in self.of_type("AWS::Serverless::Function").items():
            props = res["Properties"]
            reserved = props.get("ReservedConcurrentExecutions")
            if isinstance(reserved, dict):  # !Ref to a parameter: its default
                reserved = self.resolve(reserved, {})
            found[name] = Function(
                logical_id=name,
                code_dir=ROOT / props["CodeUri"],
                handler=props.get("Handler", self.globals.get("Handler", "app.lambda_handler")),
                memory_mb=int(props.get("MemorySize", self.globals.get("MemorySize", 128))),
                timeout_s=int(props.get("Timeout", self.globals.get("Timeout", 3))),
                reserved_concurrency=int(reserved) if reserved is not None else None,
            )
        return found

    def routes(self) -> list[Route]:
        """Every HttpApi event, most specific first (fewer path parameters first), as API Gateway matches."""
        routes = []
        for name, res in self.of_type("AWS::Serverless::Function").items():
            for event in (res["Properties"].get("Events") or {}).values():
                if event["Type"] == "HttpApi":
                    props = event["Properties"]
                    public = (props.get("Auth") or {}).get("Authorizer") == "NONE"
                    routes.append(
                        Route(props["Method"].upper(), props["Path"], name, _route_regex(props["Path"]), public)
                    )
        return sorted(routes, key=lambda r: (r.path.count("{"), -len(r.path)))

    def authorizer(self) -> tuple[str, dict[str, Any]]:
        """(function logical id, authorizer settings) of the HTTP API's default authorizer."""
        api = next(iter(self.of_type("AWS::Serverless::HttpApi").values()))
        auth = api["Properties"]["Auth"]
        settings = auth["Authorizers"][auth["DefaultAuthorizer"]]
        return settings["FunctionArn"]["Fn::GetAtt"][0], settings

    def sqs_consumer(self) -> tuple[str, dict[str, Any]]:
        """(function logical id, event properties) of the function fed by the jobs queue."""
        for name, res in self.of_type("AWS::Serverless::Function").items():
            for event in (res["Properties"].get("Events") or {}).values():
                if event["Type"] == "SQS":
                    return name, event["Properties"]
        raise LookupError("no SQS-triggered function in the template")

    def resolve(self, value: Any, physical: dict[str, dict[str, str]]) -> Any:
        """Resolve !Ref / !GetAtt / !Sub against local physical names: physical[logical] = {"Ref", "Arn"}."""
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                if arg in physical:
                    return physical[arg]["Ref"]
                if arg in PSEUDO_PARAMETERS:
                    return PSEUDO_PARAMETERS[arg]
                return self.parameter_default(arg)
            if key == "Fn::GetAtt":
                return physical[arg[0]][arg[1]]
            if key == "Fn::Sub":
                return re.sub(
                    r"\$\{([A-Za-z0-9:]+)(?:\.([A-Za-z]+))?\}",
                    lambda m: (
                        physical[m.group(1)][m.group(2) or "Ref"]
                        if m.group(1) in physical
                        else PSEUDO_PARAMETERS.get(m.group(1), m.group(0))
                    ),
                    arg,
                )
        if isinstance(value, dict):
            return {k: self.resolve(v, physical) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, physical) for v in value]
        return value

    def environment(self, physical: dict[str, dict[str, str]]) -> dict[str, str]:
        variables = self.globals.get("Environment", {}).get("Variables", {})
        return {k: str(self.resolve(v, physical)) for k, v in variables.items()}
