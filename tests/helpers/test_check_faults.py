"""`lsqsf check` under injected faults: every run ends READY (retried within bounds) or with a clear
failed step that has a remedy; never an exception, never exit code 3, never unbounded retries."""

from __future__ import annotations

import inspect
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from sandboxkit import sandbox_calls, set_faults
from simple_salesforce import Salesforce

from lsqsf_helpers import http
from lsqsf_helpers.cli import main
from lsqsf_helpers.salesforce import SalesforceClient
from lsqsf_helpers.sandbox import Sandbox

RETRIES: int = inspect.signature(http.new_session).parameters["retries"].default
CONNECTOR = "connector: {package_version_id: 04tFAKE0LSQ0001, namespace: lsqfake}\n"
READY_ORG = f"org: ready\nsandbox_scenario: ready\n{CONNECTOR}"
FRESH_ORG = f"org: fresh\nsandbox_scenario: fresh\n{CONNECTOR}"
# The in-process sandbox's server (socketserver) prints this block when a client hangs up on a delayed
# answer; it is the emulator's noise on the shared stderr, not output of `lsqsf check`.
SANDBOX_SERVER_ERROR = re.compile(
    r"-{40}\nException occurred during processing of request from .*?\n-{40}\n", re.DOTALL
)


pytestmark = pytest.mark.usefixtures("short_waits")


def check(
    sandbox: Sandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    org_text: str = READY_ORG,
    *extra: str,
) -> tuple[int, dict[str, Any], str]:
    """`lsqsf check` in-process; the exit code, the JSON record and stdout + stderr."""
    org_file, record_file = tmp_path / "org.yaml", tmp_path / "record.json"
    org_file.write_text(org_text)
    code = main(["check", str(org_file), "--sandbox", sandbox.url, "--json", str(record_file), *extra])
    out, err = capsys.readouterr()
    err = SANDBOX_SERVER_ERROR.sub("", err)
    assert "Traceback" not in out + err
    assert "internal error" not in err
    assert code in (0, 1), err
    record: dict[str, Any] = json.loads(record_file.read_text())
    assert record["error"] == ""
    return code, record, out + err


def steps(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["id"]: step for step in record["steps"]}


def assert_ready_or_clearly_failed(code: int, record: dict[str, Any]) -> None:
    if record["ready"]:
        assert code == 0
        return
    assert code == 1
    failed = [step for step in record["steps"] if step["status"] == "failed"]
    assert failed, record["steps"]
    for step in failed:
        assert step["message"] and step["remedy"], step


def assert_retries_bounded(
    sandbox: Sandbox, counters: list[http.CallCounter], record: dict[str, Any]
) -> None:
    (counter,) = counters
    seen = sandbox_calls(sandbox)["total"]  # every attempt that reached the sandbox, logins included
    assert seen == counter.total_attempts == sum(record["http_calls"].values())
    assert counter.total_attempts <= counter.total_calls * (RETRIES + 1)


@pytest.mark.parametrize(
    ("kinds", "seed"),
    [(["429"], 0), (["503"], 0), (["drop"], 1), (["expire"], 1), (["429", "503", "drop", "expire"], 2)],
    ids=["429", "503", "drop", "expire", "mixed"],
)
def test_transient_faults_are_retried_within_bounds(
    sandbox: Sandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    counters: list[http.CallCounter],
    kinds: list[str],
    seed: int,
) -> None:
    sandbox.app.reset()
    set_faults(sandbox, rate=0.3, kinds=kinds, seed=seed)
    code, record, _ = check(sandbox, tmp_path, capsys)
    faults = sandbox_calls(sandbox)["faults"]
    assert sum(faults.values()) > 0  # the run did meet faults
    assert_ready_or_clearly_failed(code, record)
    assert record["ready"], record["steps"]  # with these seeds the retry budget is enough
    assert_retries_bounded(sandbox, counters, record)


def test_a_delay_shorter_than_the_read_timeout_only_slows_the_run(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str], counters: list[http.CallCounter]
) -> None:
    sandbox.app.reset()
    set_faults(sandbox, rate=0.5, kinds=["delay"], delay_seconds=0.1, seed=3)
    code, record, _ = check(sandbox, tmp_path, capsys)
    assert code == 0 and record["ready"]
    assert sandbox_calls(sandbox)["faults"]["delay"] > 0
    (counter,) = counters
    assert counter.retries == {}  # nothing timed out, so nothing was sent twice


@pytest.mark.parametrize(("kind", "vendor"), [("429", "leadsquared"), ("drop", "salesforce")])
def test_a_fault_that_never_ends_fails_clearly_after_the_retries(
    sandbox: Sandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    counters: list[http.CallCounter],
    kind: str,
    vendor: str,
) -> None:
    sandbox.app.reset()
    set_faults(sandbox, rate=1.0, kinds=[kind], vendors=[vendor])
    code, record, _ = check(sandbox, tmp_path, capsys)
    assert code == 1
    assert_ready_or_clearly_failed(code, record)
    failed = "leadsquared_keys" if vendor == "leadsquared" else "prerequisites"
    assert steps(record)[failed]["status"] == "failed"
    assert_retries_bounded(sandbox, counters, record)
    by_vendor = sum(1 for call in sandbox_calls(sandbox)["calls"] if call["vendor"] == vendor)
    assert by_vendor == RETRIES + 1  # one logical call, tried 1 + RETRIES times, then reported


@pytest.mark.parametrize(
    ("orgs", "refused"),
    [
        # the login (on the login host, which names no org) goes through; every call to the org is a 429
        (["ready"], "REQUEST_LIMIT_EXCEEDED"),
        # the login too: its SOAP fault reaches us without the HTTP status, the wording tells
        (None, "login refused (REQUEST_LIMIT_EXCEEDED"),
    ],
    ids=["org-calls", "the-login"],
)
def test_a_salesforce_429_that_never_ends_says_slow_down_not_the_daily_allowance(
    sandbox: Sandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    counters: list[http.CallCounter],
    orgs: list[str] | None,
    refused: str,
) -> None:
    sandbox.app.reset()
    set_faults(sandbox, rate=1.0, kinds=["429"], vendors=["salesforce"], orgs=orgs)
    code, record, _ = check(sandbox, tmp_path, capsys)
    assert code == 1
    failed = steps(record)["prerequisites"]
    assert failed["status"] == "failed" and refused in failed["message"]
    assert "slow down" in failed["remedy"] and "24 hours" not in failed["remedy"]
    assert_retries_bounded(sandbox, counters, record)


def test_an_org_out_of_its_daily_allowance_is_told_to_wait_for_it(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.app.reset()
    org = f"org: rate-limited\nsandbox_scenario: rate-limited\n{CONNECTOR}"
    code, record, _ = check(sandbox, tmp_path, capsys, org)
    assert code == 1
    failed = steps(record)["prerequisites"]
    assert failed["status"] == "failed" and "TotalRequests Limit exceeded" in failed["message"]
    assert "24 hours" in failed["remedy"] and "slow down" not in failed["remedy"]


@pytest.mark.parametrize("vendor", ["leadsquared", "salesforce"])
def test_a_delay_longer_than_the_read_timeout_fails_clearly_in_bounded_time(
    sandbox: Sandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    counters: list[http.CallCounter],
    monkeypatch: pytest.MonkeyPatch,
    vendor: str,
) -> None:
    read_timeout, delay = 0.2, 0.6
    monkeypatch.setenv("LSQSF_READ_TIMEOUT", str(read_timeout))
    sandbox.app.reset()
    set_faults(sandbox, rate=1.0, kinds=["delay"], delay_seconds=delay, vendors=[vendor])
    started = time.monotonic()
    code, record, _ = check(sandbox, tmp_path, capsys)
    elapsed = time.monotonic() - started
    time.sleep(delay)  # let the sandbox finish the delayed answers before the next test resets it

    assert code == 1
    assert_ready_or_clearly_failed(code, record)
    failed = steps(record)["leadsquared_keys" if vendor == "leadsquared" else "prerequisites"]
    assert failed["status"] == "failed"
    assert "ReadTimeout" in failed["message"]
    (counter,) = counters
    assert counter.total_attempts <= counter.total_calls * (RETRIES + 1)
    assert elapsed < read_timeout * (RETRIES + 1) + 2.0  # one logical call timed out RETRIES + 1 times


def test_expired_sessions_of_a_password_org_are_renewed_by_logging_in_again(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str], counters: list[http.CallCounter]
) -> None:
    sandbox.app.reset()
    set_faults(sandbox, rate=0.5, kinds=["expire"], seed=2, vendors=["salesforce"])
    code, record, _ = check(sandbox, tmp_path, capsys)
    assert code == 0 and record["ready"]
    calls = sandbox_calls(sandbox)
    assert calls["faults"]["expire"] > 0
    logins = sum(1 for call in calls["calls"] if call["api"] == "sf.login")
    assert logins > 1  # simple-salesforce logged in again with the password
    assert_retries_bounded(sandbox, counters, record)


def test_an_expired_access_token_fails_clearly_with_get_a_new_token(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.app.reset()
    orgs = requests.get(f"{sandbox.url}/_sandbox/orgs", timeout=5).json()["orgs"]
    creds = next(o for o in orgs if o["org"] == "ready")["salesforce"]
    session = requests.Session()
    http.mount_sandbox(session, sandbox.url)
    sf = Salesforce(
        username=creds["username"],
        password=creds["password"],
        security_token=creds["security_token"],
        session=session,
    )
    monkeypatch.setenv("T_SF_ACCESS_TOKEN", sf.session_id)
    org = (
        "org: ready\nsandbox_scenario: ready\nsalesforce:\n  auth: access_token\n"
        f"  access_token: env:T_SF_ACCESS_TOKEN\n  instance_url: https://{sf.sf_instance}\n{CONNECTOR}"
    )
    set_faults(sandbox, rate=1.0, kinds=["expire"], vendors=["salesforce"])
    code, record, printed = check(sandbox, tmp_path, capsys, org)
    assert code == 1
    assert_ready_or_clearly_failed(code, record)
    prerequisites = steps(record)["prerequisites"]
    assert prerequisites["status"] == "failed"
    assert "INVALID_SESSION_ID" in prerequisites["message"]
    assert "new access token" in prerequisites["remedy"]
    assert sf.session_id not in printed


@pytest.mark.parametrize(("kind", "attempts"), [("500", 1), ("502", RETRIES + 1), ("drop", RETRIES + 1)])
def test_a_fault_on_the_metadata_api_during_apply_fails_the_remote_site_step_clearly(
    sandbox: Sandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    attempts: int,
) -> None:
    """Faults only while the remote site is written (zeep, SOAP): a 500 is a SOAP fault and is not
    repeated; a 502 or a dropped connection is retried (an upsert is safe to repeat), then reported."""
    sandbox.app.reset()
    original = SalesforceClient.upsert_remote_site

    def upsert_under_faults(self: SalesforceClient, *args: Any, **kwargs: Any) -> bool:
        set_faults(sandbox, rate=1.0, kinds=[kind], vendors=["salesforce"], orgs=["fresh"])
        try:
            return original(self, *args, **kwargs)
        finally:
            set_faults(sandbox, rate=0)

    monkeypatch.setattr(SalesforceClient, "upsert_remote_site", upsert_under_faults)
    code, record, _ = check(sandbox, tmp_path, capsys, FRESH_ORG, "--apply")

    assert code == 1
    assert_ready_or_clearly_failed(code, record)
    by_id = steps(record)
    assert by_id["install_connector"]["status"] == "ok"  # fixed before the fault
    assert by_id["classic_view"]["status"] == "ok"
    remote_site = by_id["remote_site"]
    assert remote_site["status"] == "failed"
    assert "write the remote site" in remote_site["message"]
    assert remote_site["remedy"]
    assert remote_site["changes"] == []
    metadata_calls = [c for c in sandbox_calls(sandbox)["calls"] if c["path"].startswith("/services/Soap/m/")]
    assert len(metadata_calls) == attempts
    assert all(call["fault"] == kind for call in metadata_calls)
