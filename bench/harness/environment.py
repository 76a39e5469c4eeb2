"""The machine and the software versions, written into every result."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import psutil

from harness.systems import BENCH

PEER_PACKAGES = [
    "celery",
    "kombu",
    "redis",
    "dramatiq",
    "taskiq",
    "taskiq-redis",
    "rq",
    "apscheduler",
    "workhorse",
]


def machine() -> dict[str, object]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_before": list(os.getloadavg()),
    }


def versions(binary: Path) -> dict[str, str]:
    found = {}
    for name in PEER_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    found["arq"] = _output(
        [
            str(BENCH / ".venv-arq/bin/python"),
            "-c",
            "import importlib.metadata as m; print(m.version('arq'), m.version('redis'))",
        ]
    )
    found["redis-server"] = _output(["redis-server", "--version"])
    found["workhorse-binary"] = _output([str(binary), "--version"])
    # The source the binary and the package were built from (a "+" marks local changes).
    commit = _output(["git", "-C", str(BENCH), "rev-parse", "--short", "HEAD"])
    dirty = _output(["git", "-C", str(BENCH), "status", "--porcelain", "--untracked-files=no"])
    found["workhorse-commit"] = commit + ("+" if dirty else "")
    return found


def _output(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30).stdout.strip()
    except OSError as error:
        return f"unavailable ({error})"
