"""Helpers shared by the benchmark sections: statistics, the emulated stack, dummy Lambda environments."""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
DEV_TOKEN = "prl_1_" + "B" * 43


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100), so p95 of 20 samples is the 19th smallest."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def dummy_physical() -> dict[str, dict[str, str]]:
    """Physical names for every template resource, as CloudFormation would give them (never called)."""
    from parley_local.template import Stack

    physical = {}
    for name in Stack().resources:
        physical[name] = {"Ref": f"parley-{name}", "Arn": f"arn:aws:dynamodb:us-east-1:123456789012:table/{name}"}
    physical["JobsQueue"] = {
        "Ref": "https://sqs.us-east-1.amazonaws.com/123456789012/parley-jobs.fifo",
        "Arn": "arn:aws:sqs:us-east-1:123456789012:parley-jobs.fifo",
    }
    return physical


def lambda_environment(template_env: dict[str, str], function_name: str, memory_mb: int) -> dict[str, str]:
    """The variables Lambda sets for a python3.13 function, plus the template's (dummy AWS credentials)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "PYTHONDONTWRITEBYTECODE": "",
    }
    env.pop("PYTHONDONTWRITEBYTECODE")
    env.update(template_env)
    return env


def _tree(pid: int) -> list[int]:
    """A process and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                parent = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _memory_kb(pid: int, path: str, field: str) -> int:
    try:
        with open(f"/proc/{pid}/{path}") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_tree_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants (kB, from /proc; shared pages counted in each)."""
    return sum(_memory_kb(p, "status", "VmRSS") for p in _tree(pid))


def pss_tree_kb(pid: int) -> int:
    """Proportional set size of a process and its descendants (kB): a page shared by n processes counts 1/n,
    so environment processes sharing the interpreter's and libraries' pages are not counted n times."""
    return sum(_memory_kb(p, "smaps_rollup", "Pss") for p in _tree(pid))


def machine() -> dict[str, Any]:
    import platform

    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = 0.0
    try:
        with open("/proc/meminfo") as fh:
            mem_gb = int(fh.readline().split()[1]) / 1024 / 1024
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(mem_gb, 1),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
    }
