"""`lsqsf` in a process of its own, for the tests that signal it, and the kernels it started."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_lsqsf(*args: str) -> subprocess.Popen[str]:
    """`python -m lsqsf_helpers ARGS` in the checkout, unbuffered, its output piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "lsqsf_helpers", *args],
        cwd=ROOT,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kernels_of(pid: int) -> list[int]:
    """Kernel processes started by process `pid` (jupyter_client puts JPY_PARENT_PID in their env)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"JPY_PARENT_PID={pid}".encode() in environ:
            found.append(int(proc.name))
    return found
