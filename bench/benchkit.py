"""What the benchmarks share: the repository's paths, a practice org, and orgs files of many copies.

Imported by the bench scripts as a sibling module (each runs as `.venv/bin/python bench/NAME.py`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from lsqsf_helpers.params import OrgParams, parse_org
from lsqsf_helpers.sandbox import scenarios

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # lsqsf and papermill of this venv
CONNECTOR = {"package_version_id": scenarios.FAKE_PACKAGE_VERSION_ID, "namespace": scenarios.FAKE_NAMESPACE}


def practice_org(scenario: str) -> OrgParams:
    """The sandbox's practice org of a scenario, labelled like it, with the fake connector."""
    return parse_org({"org": scenario, "sandbox_scenario": scenario, "connector": CONNECTOR})


def orgs_file(folder: Path, copies: int) -> Path:
    """examples/orgs.yaml's practice orgs `copies` times over (labels get -1, -2, …), written into `folder`."""
    doc = yaml.safe_load((ROOT / "examples" / "orgs.yaml").read_text())
    orgs = [dict(org, org=f"{org['org']}-{n}") for n in range(1, copies + 1) for org in doc["orgs"]]
    path = folder / "orgs.yaml"
    path.write_text(yaml.safe_dump({"orgs": orgs}))
    return path
