"""7. Deployment size: `sam build` into a temporary folder, then the unzipped size of every function and of
each layer (ParleyLayer for every function, AnswerLayer for the worker only), each layer's largest packages,
each function's package (its code plus its layers), and whether any function's own code carries numpy or the
retrieval stack (they must not: functions get parley through the layers only)."""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.common import ROOT

FORBIDDEN_IN_FUNCTIONS = ("numpy", "retrieval.py", "rank_bm25", "scipy")


def python313() -> str | None:
    """A working python3.13 (pyenv's shims on PATH may point at no installed version, so each is tried)."""
    candidates = [os.environ.get("PARLEY_PYTHON313") or "", shutil.which("python3.13") or ""]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.13*/bin/python3.13")))
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
        candidates += sorted(glob.glob(f"{root}/versions/3.13*/bin/python3.13"))
    except OSError:
        pass
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    return None


def tree_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def run() -> dict[str, Any]:
    interpreter = python313()
    if interpreter is None:
        return {"pending": "no python3.13 found for sam build"}
    build_dir = Path(tempfile.mkdtemp(prefix="parley-sam-"))
    env = {
        **os.environ,
        "SAM_CLI_TELEMETRY": "0",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PATH": f"{Path(interpreter).parent}:{os.environ.get('PATH', '')}",
    }
    sam = ROOT / ".venv" / "bin" / "sam"
    done = subprocess.run(
        [
            str(sam if sam.exists() else "sam"),
            "build",
            "--build-dir",
            str(build_dir / "build"),
            "--cache-dir",
            str(build_dir / "cache"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    if done.returncode:
        return {"pending": f"sam build failed: {(done.stdout + done.stderr)[-800:]}"}
    out: dict[str, Any] = {"functions": {}, "layers": {}, "packages": {}}
    for artifact in sorted((build_dir / "build").iterdir()):
        if not artifact.is_dir():
            continue
        size = tree_size(artifact)
        if artifact.name.endswith("Layer"):
            site = artifact / "python"
            packages = {}
            for entry in site.iterdir() if site.exists() else []:
                if entry.name.endswith((".dist-info", "__pycache__")):
                    continue
                packages[entry.name] = tree_size(entry) if entry.is_dir() else entry.stat().st_size
            out["layers"][artifact.name] = {
                "bytes": size,
                "largest": sorted(packages.items(), key=lambda kv: -kv[1])[:8],
                "has_numpy": (site / "numpy").exists(),
                "has_retrieval": (site / "parley" / "retrieval.py").exists(),
            }
        else:
            files = [str(f.relative_to(artifact)) for f in artifact.rglob("*") if f.is_file()]
            carried = sorted({bad for bad in FORBIDDEN_IN_FUNCTIONS for f in files if bad in f})
            out["functions"][artifact.name] = {"bytes": size, "files": len(files), "carries": carried}
    template = (build_dir / "build" / "template.yaml").read_text()
    out["packages"] = _packages(template, out)
    shutil.rmtree(build_dir, ignore_errors=True)
    return out


def _layer_ref(layer: Any) -> str | None:
    """A layer entry's logical id; a conditional one (the X-Ray layer, `!If [TracingEnabled, ...]`) as the stack
    deploys it by default, with tracing off."""
    if isinstance(layer, dict) and "Fn::If" in layer:
        return _layer_ref(layer["Fn::If"][2])
    if isinstance(layer, dict):
        return None if layer.get("Ref") == "AWS::NoValue" else layer.get("Ref")
    return str(layer)


def _packages(template_text: str, sizes: dict[str, Any]) -> dict[str, int]:
    """Each function's whole package as Lambda unpacks it: its code plus the layers it gets (Globals' + its own)."""
    import yaml

    template = yaml.load(template_text, Loader=yaml.BaseLoader)
    shared = template.get("Globals", {}).get("Function", {}).get("Layers", [])
    packages = {}
    for name, function in sizes["functions"].items():
        own = template["Resources"].get(name, {}).get("Properties", {}).get("Layers", [])
        layers = {ref for layer in [*shared, *own] if (ref := _layer_ref(layer)) is not None}
        packages[name] = function["bytes"] + sum(sizes["layers"].get(layer, {}).get("bytes", 0) for layer in layers)
    return packages


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    Path(args.out).write_text(json.dumps(run(), indent=1))


if __name__ == "__main__":
    main()
