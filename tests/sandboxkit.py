"""The sandbox as the tests use it: its control API (fault rules, the call log, the practice orgs' listing),
and org files for its practice orgs, with the reading of what a run wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from lsqsf_helpers.sandbox import Sandbox

CONNECTOR = "{package_version_id: 04tFAKE0LSQ0001, namespace: lsqfake}"


def set_faults(sandbox: Sandbox, **rule: Any) -> None:
    """Put a fault rule in force (POST /_sandbox/faults); the sandbox must accept it."""
    response = requests.post(f"{sandbox.url}/_sandbox/faults", json=rule, timeout=5)
    assert response.status_code == 200, response.text


def sandbox_calls(sandbox: Sandbox, *, timeout: float = 5) -> dict[str, Any]:
    """The call log since the last reset (GET /_sandbox/calls)."""
    response = requests.get(f"{sandbox.url}/_sandbox/calls", timeout=timeout)
    response.raise_for_status()
    summary: dict[str, Any] = response.json()
    return summary


def listed_org(sandbox: Sandbox, label: str) -> dict[str, Any]:
    """One org of GET /_sandbox/orgs: its scenario, credentials and state."""
    orgs = requests.get(f"{sandbox.url}/_sandbox/orgs", timeout=5).json()["orgs"]
    found: dict[str, Any] = next(o for o in orgs if o["org"] == label)
    return found


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


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def leftovers(out: Path) -> list[Path]:
    """Files under `out` that a finished batch must not leave: temporary and partial files."""
    return [p for p in out.rglob("*") if p.is_file() and (p.name.startswith(".") or "partial" in p.name)]
