"""All four Salesforce auth modes, through our own connect path, against the sandbox over loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from sandboxkit import listed_org

from lsqsf_helpers.checkrun import check_orgs, load_and_validate
from lsqsf_helpers.sandbox import Sandbox

CONNECTOR = "connector: {package_version_id: 04tFAKE0LSQ0001, namespace: lsqfake}\n"


@pytest.fixture
def ready_creds(sandbox: Sandbox) -> dict[str, str]:
    creds: dict[str, str] = listed_org(sandbox, "ready")["salesforce"]
    return creds


def _statuses(sandbox: Sandbox, org_file: Path) -> dict[str, str]:
    (record,) = check_orgs(
        load_and_validate(org_file, sandbox_mode=True), apply=False, sandbox_url=sandbox.url
    )
    assert record.error == ""
    return {s.step: s.status.value for s in record.steps}


@pytest.mark.parametrize("auth", ["password", "jwt", "client_credentials"])
def test_borrowed_credentials_work_in_every_refreshable_mode(
    sandbox: Sandbox, tmp_path: Path, auth: str
) -> None:
    org_file = tmp_path / "org.yaml"
    org_file.write_text(f"org: ready\nsandbox_scenario: ready\nsalesforce: {{auth: {auth}}}\n{CONNECTOR}")
    statuses = _statuses(sandbox, org_file)
    assert statuses["prerequisites"] == "ok"
    assert statuses["remote_site"] == "ok"


def test_own_references_for_every_mode(
    sandbox: Sandbox, tmp_path: Path, ready_creds: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "jwt.pem"
    key_file.write_text(ready_creds["jwt_private_key"])
    key_file.chmod(0o600)
    monkeypatch.setenv("T_SF_PASSWORD", ready_creds["password"])
    monkeypatch.setenv("T_SF_TOKEN", ready_creds["security_token"])
    monkeypatch.setenv("T_SF_SECRET", ready_creds["consumer_secret"])
    my_domain = f"https://{ready_creds['my_domain']}"
    modes = {
        "password": f"auth: password\n  username: {ready_creds['username']}\n"
        "  password: env:T_SF_PASSWORD\n  security_token: env:T_SF_TOKEN",
        "jwt": f"auth: jwt\n  username: {ready_creds['username']}\n"
        f"  consumer_key: {ready_creds['jwt_consumer_key']}\n  private_key: file:{key_file}",
        "client_credentials": f"login: {my_domain}\n  auth: client_credentials\n"
        f"  consumer_key: {ready_creds['consumer_key']}\n  consumer_secret: env:T_SF_SECRET",
    }
    # access_token: take a real session from the sandbox first, as an admin would from `sf org display`
    from simple_salesforce import Salesforce

    from lsqsf_helpers.http import mount_sandbox

    session = requests.Session()
    mount_sandbox(session, sandbox.url)
    sf = Salesforce(
        username=ready_creds["username"],
        password=ready_creds["password"],
        security_token=ready_creds["security_token"],
        session=session,
    )
    monkeypatch.setenv("T_SF_ACCESS", sf.session_id)
    modes["access_token"] = (
        f"auth: access_token\n  access_token: env:T_SF_ACCESS\n  instance_url: https://{sf.sf_instance}"
    )
    # Salesforce round trips of a whole check: a login (none with a given token), the user's id from
    # userinfo where the login does not name the user, then one REST and one Tooling composite call
    round_trips = {"password": 3, "jwt": 3, "client_credentials": 4, "access_token": 3}
    for auth, block in modes.items():
        org_file = tmp_path / f"{auth}.yaml"
        org_file.write_text(f"org: ready\nsandbox_scenario: ready\nsalesforce:\n  {block}\n{CONNECTOR}")
        sandbox.app.calls.clear()
        statuses = _statuses(sandbox, org_file)
        assert statuses["prerequisites"] == "ok", auth
        assert statuses["install_connector"] == "ok", auth
        sf_calls = [c for c in sandbox.app.calls.summary()["calls"] if c["vendor"] == "salesforce"]
        assert len(sf_calls) == round_trips[auth], (auth, [(c["method"], c["path"]) for c in sf_calls])
        assert [c["path"].rsplit("/", 2)[-2:] for c in sf_calls[-2:]] == [
            ["v59.0", "composite"],
            ["tooling", "composite"],
        ]
