"""The sandbox's control API as the tests use it: fault rules, the call log, the practice orgs' listing."""

from __future__ import annotations

from typing import Any

import requests

from lsqsf_helpers.sandbox import Sandbox


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
