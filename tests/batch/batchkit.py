"""Helpers for the `lsqsf batch` tests: the examples, step statuses, the sandbox's call log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sandboxkit

from lsqsf_helpers.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "orgs.yaml"


def statuses(record: dict[str, Any]) -> dict[str, str]:
    return {step["id"]: step["status"] for step in record["steps"]}


def calls(sandbox: Sandbox) -> dict[str, Any]:
    return sandboxkit.sandbox_calls(sandbox)
