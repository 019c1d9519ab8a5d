"""`lsqsf check` against every practice org: each cell of docs/steps-matrix.md, apply, idempotence."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests
from expectations import matrix

from lsqsf_helpers.checkrun import check_orgs, load_and_validate
from lsqsf_helpers.cli import main
from lsqsf_helpers.sandbox import Sandbox
from lsqsf_helpers.steps import STEP_IDS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "orgs.yaml"
FIXABLE = ("fresh", "lightning", "no-remote-site", "wrong-remote-site")
WRITE_APIS = ("PATCH", "DELETE")


MATRIX_ROWS = matrix()


def test_matrix_covers_every_scenario_and_step() -> None:
    from lsqsf_helpers.sandbox.scenarios import SCENARIOS

    assert set(MATRIX_ROWS) == set(SCENARIOS)
    for row in MATRIX_ROWS.values():
        assert tuple(row) == STEP_IDS


@pytest.fixture(scope="module")
def check_records(sandbox: Sandbox) -> dict[str, dict[str, str]]:
    sandbox.app.reset()
    orgs = load_and_validate(EXAMPLES, sandbox_mode=True)
    records = check_orgs(orgs, apply=False, sandbox_url=sandbox.url)
    return {r.org: {s.step: s.status.value for s in r.steps} for r in records}


@pytest.mark.parametrize("scenario", sorted(MATRIX_ROWS))
def test_check_statuses_match_the_documented_matrix(
    check_records: dict[str, dict[str, str]], scenario: str
) -> None:
    assert check_records[scenario] == MATRIX_ROWS[scenario]


def test_check_only_changes_nothing(fresh_sandbox: Sandbox) -> None:
    orgs = load_and_validate(EXAMPLES, sandbox_mode=True)
    before = requests.get(f"{fresh_sandbox.url}/_sandbox/orgs", timeout=5).json()
    check_orgs(orgs, apply=False, sandbox_url=fresh_sandbox.url)
    calls = requests.get(f"{fresh_sandbox.url}/_sandbox/calls", timeout=5).json()
    after = requests.get(f"{fresh_sandbox.url}/_sandbox/orgs", timeout=5).json()
    for org in before["orgs"] + after["orgs"]:
        org["salesforce"].pop("api_requests")  # the only thing a check may change: the API call count
    assert before == after
    # a POST is a write unless it is a login or a composite call of GETs only (the sandbox marks those `read`)
    writes = [c for c in calls["calls"] if not c["read"] and c["api"] not in ("sf.login", "sf.oauth")]
    assert writes == []
    assert [c for c in calls["calls"] if c["method"] in WRITE_APIS] == []
    # and a second, independent view: the fixable orgs still report the same problems
    again = check_orgs([o for o in orgs if o.label in FIXABLE], apply=False, sandbox_url=fresh_sandbox.url)
    for record in again:
        assert {s.step: s.status.value for s in record.steps} == MATRIX_ROWS[record.org]


def test_apply_fixes_the_fixable_orgs_and_a_second_apply_changes_nothing(fresh_sandbox: Sandbox) -> None:
    orgs = [o for o in load_and_validate(EXAMPLES, sandbox_mode=True) if o.label in FIXABLE]
    first = check_orgs(orgs, apply=True, sandbox_url=fresh_sandbox.url)
    for record in first:
        statuses = {s.step: s.status.value for s in record.steps}
        assert statuses["install_connector"] == "ok", record.org
        assert statuses["classic_view"] == "ok", record.org
        assert statuses["remote_site"] == "ok", record.org
        assert statuses["connector_auth"] == "manual", record.org
        changed = {s.step for s in record.steps if s.changes}
        fixed_by_design = {k for k, v in MATRIX_ROWS[record.org].items() if v == "action_needed"}
        assert changed == fixed_by_design, record.org
        for step in record.steps:
            for change in step.changes:
                assert change.before != change.after
    second = check_orgs(orgs, apply=True, sandbox_url=fresh_sandbox.url)
    assert [c for r in second for s in r.steps for c in s.changes] == []
    assert all(r.ready for r in second)


def test_cli_check_exit_codes_and_json(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.app.reset()
    ready_file = tmp_path / "ready.yaml"
    ready_file.write_text(
        "org: ready\nsandbox_scenario: ready\nconnector: {package_version_id: 04tFAKE0LSQ0001, namespace: lsqfake}\n"
    )
    out = tmp_path / "ready.json"
    assert main(["check", str(ready_file), "--sandbox", sandbox.url, "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["schema"] == "lsqsf.run/1"
    assert record["ready"] is True
    assert [s["id"] for s in record["steps"]] == list(STEP_IDS)
    assert "READY" in capsys.readouterr().out

    assert main(["check", str(EXAMPLES), "--sandbox", sandbox.url]) == 1
    printed = capsys.readouterr().out
    for label in MATRIX_ROWS:
        assert re.search(rf"^{re.escape(label)} \(check\)", printed, re.M)


@pytest.mark.parametrize(
    ("constant", "broken", "failed"),
    [
        ("ORG_SOQL", "SELECT Id, NoSuchField FROM Organization", {"api_access"}),
        ("SITE_SOQL", "SELECT Id, NoSuchField FROM RemoteProxy WHERE SiteName = {}", {"remote_site"}),
    ],
)
def test_one_failed_query_in_a_composite_call_fails_only_the_step_that_needs_it(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, constant: str, broken: str, failed: set[str]
) -> None:
    """Salesforce answers each subrequest on its own: a query it refuses (here a field the org lacks)
    is that step's failure, with Salesforce's errorCode; the other reads of the same call still count."""
    from lsqsf_helpers import salesforce

    monkeypatch.setattr(salesforce, constant, broken)
    sandbox.app.reset()
    (org,) = [o for o in load_and_validate(EXAMPLES, sandbox_mode=True) if o.label == "ready"]
    (record,) = check_orgs([org], apply=False, sandbox_url=sandbox.url)
    statuses = {s.step: s.status.value for s in record.steps}
    assert {step for step, status in statuses.items() if status == "failed"} == failed
    for step in record.steps:
        if step.step in failed:
            assert "INVALID_FIELD" in step.message and "NoSuchField" in step.message
    expected = dict(MATRIX_ROWS["ready"]) | dict.fromkeys(failed, "failed") | {"next_steps": "skipped"}
    if "remote_site" in failed:  # connector_auth needs remote_site done
        expected["connector_auth"] = "skipped"
    assert statuses == expected
