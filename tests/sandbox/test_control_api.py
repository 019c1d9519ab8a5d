"""The control API under /_sandbox/: orgs, reset, call log and scenarios (fault injection: test_faults.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from lsqsf_helpers.http import mount_sandbox
from lsqsf_helpers.sandbox import Sandbox, scenarios

AUTH_URL = "https://api.leadsquared.com/v2/Authentication.svc/UserByAccessKey.Get"
SF_CREDENTIALS = {"login_host", "my_domain", "username", "password", "security_token", "consumer_key"}


@pytest.fixture
def small_sandbox() -> Iterator[Sandbox]:
    """A sandbox of its own, for tests that add orgs (reset keeps added orgs)."""
    with Sandbox(["ready"]) as sb:
        yield sb


@pytest.fixture(scope="module")
def ready_only() -> Iterator[Sandbox]:
    """One org; for tests that must leave it unchanged."""
    with Sandbox(["ready"]) as sb:
        yield sb


def lsq_session(sandbox: Sandbox) -> requests.Session:
    session = requests.Session()
    mount_sandbox(session, sandbox.url)
    return session


def lsq_headers(org: dict[str, Any]) -> dict[str, str]:
    return {
        "x-LSQ-AccessKey": org["leadsquared"]["access_key"],
        "x-LSQ-SecretKey": org["leadsquared"]["secret_key"],
    }


def orgs_by_label(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    response = requests.get(f"{sandbox.url}/_sandbox/orgs", timeout=5)
    assert response.status_code == 200
    return {org["org"]: org for org in response.json()["orgs"]}


def test_orgs_list_every_scenario_with_credentials_for_both_vendors(fresh_sandbox: Sandbox) -> None:
    orgs = orgs_by_label(fresh_sandbox)
    assert {org["scenario"] for org in orgs.values()} == set(scenarios.SCENARIOS)
    for label, org in orgs.items():
        spec = scenarios.get(org["scenario"])
        assert org["summary"] == spec.summary
        assert org["salesforce"].keys() >= SF_CREDENTIALS, label
        lsq = org["leadsquared"]
        assert lsq["access_key"].startswith("u$r") and len(lsq["secret_key"]) == 40
        assert lsq["region"] == spec.lsq_region and lsq["role"] == spec.lsq_role


def test_listed_lsq_credentials_work(fresh_sandbox: Sandbox) -> None:
    session = lsq_session(fresh_sandbox)
    org = orgs_by_label(fresh_sandbox)["ready"]
    response = session.get(AUTH_URL, headers=lsq_headers(org))
    assert response.status_code == 200
    assert response.json()["PassPhrase"] == org["leadsquared"]["user_email"]


def test_control_api_answers_on_localhost_too(sandbox: Sandbox) -> None:
    response = requests.get(f"http://localhost:{sandbox.port}/_sandbox/scenarios", timeout=5)
    assert response.status_code == 200


def test_scenarios_lists_every_name_with_its_summary(sandbox: Sandbox) -> None:
    listed = requests.get(f"{sandbox.url}/_sandbox/scenarios", timeout=5).json()["scenarios"]
    assert [entry["name"] for entry in listed] == list(scenarios.SCENARIOS)
    assert all(entry["summary"] == scenarios.get(entry["name"]).summary for entry in listed)


def test_add_orgs_by_count_and_by_label(small_sandbox: Sandbox) -> None:
    created = requests.post(
        f"{small_sandbox.url}/_sandbox/orgs", json={"scenario": "ready", "count": 3}, timeout=5
    )
    assert created.status_code == 201
    assert created.json() == {"orgs": ["ready-2", "ready-3", "ready-4"]}
    labelled = requests.post(
        f"{small_sandbox.url}/_sandbox/orgs",
        json={"scenario": "wrong-lsq-region", "label": "acme"},
        timeout=5,
    )
    assert (labelled.status_code, labelled.json()) == (201, {"orgs": ["acme"]})

    orgs = orgs_by_label(small_sandbox)
    assert list(orgs) == ["ready", "ready-2", "ready-3", "ready-4", "acme"]
    assert orgs["acme"]["leadsquared"]["host"] == "api-in21.leadsquared.com"
    session = lsq_session(small_sandbox)
    for label in ("ready-4", "acme"):
        assert session.get(AUTH_URL, headers=lsq_headers(orgs[label])).status_code == 200


def test_many_orgs_at_once(small_sandbox: Sandbox) -> None:
    created = requests.post(
        f"{small_sandbox.url}/_sandbox/orgs", json={"scenario": "fresh", "count": 500}, timeout=30
    )
    assert created.status_code == 201
    assert len(created.json()["orgs"]) == 500
    assert len(orgs_by_label(small_sandbox)) == 501


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "scenario"),
        ({"scenario": "nope"}, "scenario"),
        ({"scenario": 3}, "scenario"),
        ({"scenario": "ready", "count": 0}, "count"),
        ({"scenario": "ready", "count": 501}, "count"),
        ({"scenario": "ready", "count": "3"}, "count"),
        ({"scenario": "ready", "count": True}, "count"),
        ({"scenario": "ready", "count": 2, "label": "x"}, "label"),
        ({"scenario": "ready", "label": "Has Spaces"}, "label"),
        ({"scenario": "ready", "label": "x" * 31}, "label"),
        ({"scenario": "ready", "label": 7}, "label"),
        ({"scenario": "ready", "label": "ready"}, "label"),
        ({"scenario": "ready", "colour": "red"}, "colour"),
        ([], "body"),
    ],
)
def test_bad_add_bodies_get_400_naming_the_field(ready_only: Sandbox, body: Any, field: str) -> None:
    response = requests.post(f"{ready_only.url}/_sandbox/orgs", json=body, timeout=5)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert field in response.json()["error"] or field == "body"
    assert list(orgs_by_label(ready_only)) == ["ready"]


def test_non_json_body_gets_400(ready_only: Sandbox) -> None:
    response = requests.post(f"{ready_only.url}/_sandbox/orgs", data=b"scenario=ready", timeout=5)
    assert response.status_code == 400
    assert "JSON" in response.json()["error"]


def test_reset_restores_state_and_keeps_orgs(small_sandbox: Sandbox) -> None:
    url = small_sandbox.url
    requests.post(f"{url}/_sandbox/orgs", json={"scenario": "rate-limited", "label": "throttled"}, timeout=5)
    before = orgs_by_label(small_sandbox)
    session = lsq_session(small_sandbox)
    headers = lsq_headers(before["throttled"])
    first = [session.get(AUTH_URL, headers=headers).json().get("Status") for _ in range(3)]
    assert first == ["Error", "Error", None]  # the throttled first calls are used up
    requests.post(f"{url}/_sandbox/faults", json={"rate": 0.5, "kinds": ["503"]}, timeout=5)

    reset = requests.post(f"{url}/_sandbox/reset", timeout=5)
    assert (reset.status_code, reset.json()) == (200, {"reset": True, "orgs": 2})

    assert orgs_by_label(small_sandbox) == before  # same orgs, same credentials
    assert requests.get(f"{url}/_sandbox/calls", timeout=5).json()["total"] == 0
    assert requests.get(f"{url}/_sandbox/faults", timeout=5).json()["rate"] == 0.0
    again = [session.get(AUTH_URL, headers=headers).json().get("Status") for _ in range(3)]
    assert again == first


def test_calls_are_counted_per_org(fresh_sandbox: Sandbox) -> None:
    orgs = orgs_by_label(fresh_sandbox)
    session = lsq_session(fresh_sandbox)
    for _ in range(3):
        session.get(AUTH_URL, headers=lsq_headers(orgs["ready"]))
    for _ in range(2):
        session.get(AUTH_URL, headers=lsq_headers(orgs["not-admin"]))
    session.get("https://api.leadsquared.com/v2/Nothing")

    summary = requests.get(f"{fresh_sandbox.url}/_sandbox/calls", timeout=5).json()
    assert summary["total"] == 6
    assert summary["by_org"]["ready"] == {"lsq": 3}
    assert summary["by_org"]["not-admin"] == {"lsq": 2}
    assert summary["by_org"]["-"] == {"leadsquared.unknown": 1}
    last = summary["calls"][-1]
    assert (last["vendor"], last["host"], last["path"], last["status"]) == (
        "leadsquared",
        "api.leadsquared.com",
        "/v2/Nothing",
        404,
    )
    assert all("secret" not in str(call).lower() for call in summary["calls"])


def test_control_calls_are_not_logged(fresh_sandbox: Sandbox) -> None:
    requests.get(f"{fresh_sandbox.url}/_sandbox/orgs", timeout=5)
    assert requests.get(f"{fresh_sandbox.url}/_sandbox/calls", timeout=5).json()["total"] == 0


def test_unknown_control_endpoint_gets_404_json(sandbox: Sandbox) -> None:
    for method, path in (
        ("GET", "/_sandbox/nothing"),
        ("DELETE", "/_sandbox/orgs"),
        ("GET", "/_sandbox/reset"),
    ):
        response = requests.request(method, f"{sandbox.url}{path}", timeout=5)
        assert response.status_code == 404
        assert "error" in response.json()
