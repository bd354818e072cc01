"""The client and CLI install alone, from clients/python, into a venv without the server package."""

from __future__ import annotations

import subprocess
import venv

import pytest

from parley_local.template import ROOT


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory):
    where = tmp_path_factory.mktemp("client-venv")
    venv.EnvBuilder(with_pip=True).create(where)
    python = where / "bin" / "python"
    # a copy of the package, not the checkout: nothing may reach into the repo
    done = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(ROOT / "clients" / "python"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return where


def _run(client_venv, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(client_venv / "bin" / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=client_venv,
        **kwargs,
    )


def test_the_client_installs_alone_with_httpx_and_no_server_code(client_venv):
    listed = _run(client_venv, "python", "-m", "pip", "list", "--format", "freeze").stdout.lower()
    names = {line.split("==")[0] for line in listed.splitlines()}
    assert {"parley-client", "httpx"} <= names
    assert not names & {"parley", "pydantic", "aws-lambda-powertools", "boto3", "botocore"}, names
    imported = _run(client_venv, "python", "-c", "import parley_client, parley_client.cli; import parley")
    assert "No module named 'parley'" in imported.stderr


def test_the_cli_runs_and_direct_mode_says_what_it_needs(client_venv, tmp_path):
    assert _run(client_venv, "parley", "--help").returncode == 0
    env = {"PATH": "/usr/bin:/bin", "PARLEY_LOCAL_STATE": str(tmp_path / "none.json"), "HOME": str(tmp_path)}
    direct = _run(client_venv, "parley", "accounts", "list", "--direct", env=env)
    assert direct.returncode == 2 and "needs the server package" in direct.stderr, direct.stderr


def test_load_reads_a_shop_export_without_the_server_models(client_venv):
    # no API is running: the file is read (and reported) before anything is sent
    script = (
        "from pathlib import Path; from parley_client.cli import read_items; "
        f"items = read_items(Path({str(ROOT / 'samples' / 'apparel' / 'woocommerce-export.csv')!r}), 'products'); "
        "print(len(items), sorted(items[0])[:3])"
    )
    done = _run(client_venv, "python", "-c", script)
    assert done.returncode == 0 and int(done.stdout.split()[0]) > 0, done.stderr[-2000:]
