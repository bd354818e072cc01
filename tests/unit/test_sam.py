"""The deploy path as far as it runs offline: `sam build` for the Lambda runtime (python3.13, arm64), the
packages it makes, samconfig.toml's deploy defaults and the stack outputs docs/deploy.md promises.

`sam validate --lint` and cfn-lint run in test_template.py. `sam package` and `sam deploy` need an AWS
account (an S3 bucket, CloudFormation), which this machine has not: the build output is checked instead.

sam build needs a python3.13 on PATH (the runtime of every function). `make test` finds one (PATH, then
pyenv) and passes it as PARLEY_PYTHON313. Without one the test is skipped on a developer's machine, but
fails in CI (CI=true): CI is where a template or layer that no longer builds must be caught.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from parley_local.template import ROOT, Stack
from tests.unit.test_layers import ANSWER_MODULES

SAM = Path(os.environ.get("VIRTUAL_ENV") or ROOT / ".venv") / "bin" / "sam"
if not SAM.exists():
    SAM = ROOT / ".venv" / "bin" / "sam"
STACK = Stack()
# What only the worker may carry; API handlers stay small for cold starts.
HEAVY = ("numpy", "scipy", "sklearn", "rank_bm25", "boto3", "botocore")


def python313() -> str | None:
    """PARLEY_PYTHON313 (set by make), else python3.13 on PATH, else pyenv's; only one that runs."""
    candidates = [os.environ.get("PARLEY_PYTHON313"), shutil.which("python3.13")]
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/3.13.*/bin/python3.13"), reverse=True)
    for candidate in filter(None, candidates):
        try:
            probe = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True, timeout=30
            )
        except OSError:
            continue
        if probe.returncode == 0 and probe.stdout.strip() == "(3, 13)":
            return candidate
    return None


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    interpreter = python313()
    if interpreter is None:
        message = "no python3.13 found (PARLEY_PYTHON313, PATH, pyenv): sam build cannot run"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; CI must build the deployable artifacts")
        pytest.skip(message)
    work = tmp_path_factory.mktemp("sam")
    env = {
        **os.environ,
        "SAM_CLI_TELEMETRY": "0",
        "AWS_DEFAULT_REGION": "us-east-1",
        # sam build looks for the runtime's interpreter by name on PATH.
        "PATH": f"{Path(interpreter).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    result = subprocess.run(
        [
            str(SAM),
            "build",
            "--build-dir",
            str(work / "build"),
            "--cache-dir",
            str(work / "cache"),
            "--base-dir",
            str(ROOT),
            "--region",
            "us-east-1",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return work / "build"


def _files(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_sam_build_makes_every_function_and_the_layer(built):
    template = yaml.load((built / "template.yaml").read_text(), Loader=yaml.BaseLoader)
    resources = template["Resources"]
    for name in STACK.functions():
        code_uri = resources[name]["Properties"]["CodeUri"]
        assert (built / code_uri / "app.py").is_file(), name
    core = built / resources["ParleyLayer"]["Properties"]["ContentUri"] / "python"
    answer = built / resources["AnswerLayer"]["Properties"]["ContentUri"] / "python"
    for module in (
        "parley/api.py",
        "parley/models/base.py",
        "parley/models/products.py",
        "parley/dal/conversations.py",
        "parley/logic/accounts.py",
    ):
        assert (core / module).is_file(), module
    for module in ANSWER_MODULES:
        assert (answer / module).exists(), f"{module} is not in the answer layer"
        assert not (core / module).exists(), f"{module} ships to every function"
    # the client, the CLI and the sample data are not server code
    for gone in ("parley/client.py", "parley/cli.py", "parley/imports", "parley/sample", "parley_client"):
        assert not (core / gone).exists() and not (answer / gone).exists(), gone
    # httpx is for the worker's OpenAI-compatible provider only
    assert not (core / "httpx").exists() and (answer / "httpx").is_dir()
    # Dependencies are built for the Lambda runtime, not for this machine.
    native = list(core.rglob("*.so"))
    assert native and all("cpython-313-aarch64-linux-gnu" in p.name for p in native), native
    assert not list(core.rglob("*.pyc")) and not list(answer.rglob("*.pyc"))


def test_only_the_worker_gets_the_answer_layer(built):
    resources = yaml.load((built / "template.yaml").read_text(), Loader=yaml.BaseLoader)["Resources"]
    for name in STACK.functions():
        layers = resources[name]["Properties"].get("Layers", [])
        has_answer = any("AnswerLayer" in str(layer) for layer in layers)
        assert has_answer == (name == "WorkerFunction"), name


def test_api_packages_hold_only_their_handler_code(built):
    for name, function in STACK.functions().items():
        package = built / name
        source = _files(function.code_dir)
        assert _files(package) <= source | {"requirements.txt"}, f"{name} vendors more than its own code"
        assert not any(part in HEAVY for f in _files(package) for part in Path(f).parts), name


def test_the_layers_carry_no_heavy_libraries(built):
    for name in ("ParleyLayer", "AnswerLayer"):
        layer = built / name / "python"
        top = {p.name.split("-")[0].lower() for p in layer.iterdir()}
        assert not top & set(HEAVY), f"{name} ships {top & set(HEAVY)}; boto3 comes with the Lambda runtime"


def test_samconfig_has_deploy_defaults():
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    assert config["version"] == 0.1
    assert config["default"]["global"]["parameters"] == {"stack_name": "parley", "region": "us-east-1"}
    deploy = config["default"]["deploy"]["parameters"]
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["resolve_s3"] is True and deploy["confirm_changeset"] is True
    assert "parameter_overrides" not in deploy  # documented, commented out: the template defaults apply
    for line in (ROOT / "samconfig.toml").read_text().splitlines():
        if "parameter_overrides" in line:
            assert line.lstrip().startswith("#")
            for pair in line.split('"')[1].split():
                assert pair.split("=")[0] in STACK.template["Parameters"], pair


def test_stack_outputs_give_the_api_url_and_every_resource_name():
    outputs = STACK.template["Outputs"]
    assert "execute-api" in outputs["ApiUrl"]["Value"]["Fn::Sub"]
    referenced = {output["Value"].get("Ref") for output in outputs.values() if isinstance(output["Value"], dict)}
    for kind in ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::S3::Bucket"):
        for name in STACK.of_type(kind):
            assert name in referenced, f"no stack output names {name}"
