"""Helpers for the `lsqsf batch` tests: small orgs files, the sandbox's call log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sandboxkit

from lsqsf_helpers.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "orgs.yaml"
CONNECTOR = "{package_version_id: 04tFAKE0LSQ0001, namespace: lsqfake}"


def practice_org(scenario: str) -> str:
    """One practice org as a YAML flow mapping, labelled like its scenario."""
    return f"{{org: {scenario}, sandbox_scenario: {scenario}, connector: {CONNECTOR}}}"


def write_orgs(path: Path, scenarios: list[str]) -> Path:
    """An orgs file with one practice org per scenario, labelled like the scenario."""
    path.write_text("\n".join(["orgs:", *(f"  - {practice_org(s)}" for s in scenarios)]) + "\n")
    return path


def write_org(path: Path, scenario: str) -> Path:
    """An org file (one org, as `lsqsf run` takes) for a scenario's practice org."""
    path.write_text(practice_org(scenario) + "\n")
    return path


def statuses(record: dict[str, Any]) -> dict[str, str]:
    return {step["id"]: step["status"] for step in record["steps"]}


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def leftovers(out: Path) -> list[Path]:
    """Files under `out` that a finished batch must not leave: temporary and partial files."""
    return [p for p in out.rglob("*") if p.is_file() and (p.name.startswith(".") or "partial" in p.name)]


def calls(sandbox: Sandbox) -> dict[str, Any]:
    return sandboxkit.sandbox_calls(sandbox)


def set_faults(sandbox: Sandbox, rule: dict[str, Any]) -> None:
    sandboxkit.set_faults(sandbox, **rule)
