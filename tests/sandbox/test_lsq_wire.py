"""LeadSquared's wire in the running sandbox, spoken to by requests over loopback with mount_sandbox."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from lsqsf_helpers.lsq_regions import REGIONS
from lsqsf_helpers.sandbox import Sandbox

AUTH_PATH = "/v2/Authentication.svc/UserByAccessKey.Get"
USERS_PATH = "/v2/UserManagement.svc/Users.Get"
USER_FIELDS = {
    "Id",
    "Name",
    "PassPhrase",
    "Role",
    "EmailAddress",
    "OrgId",
    "OrgShortCode",
    "OrgDisplayName",
    "OrgUniqueName",
    "TimeZone",
    "Type",
    "UserType",
    "MobileServiceURLs",
    "LSQCommonServiceURLs",
}


def tenant(sandbox: Sandbox, label: str) -> dict[str, Any]:
    summary: dict[str, Any] = sandbox.app.leadsquared.tenant_summary(label)
    return summary


def key_headers(summary: dict[str, Any]) -> dict[str, str]:
    return {"x-LSQ-AccessKey": summary["access_key"], "x-LSQ-SecretKey": summary["secret_key"]}


def key_params(summary: dict[str, Any]) -> dict[str, str]:
    return {"accessKey": summary["access_key"], "secretKey": summary["secret_key"]}


def assert_error(response: requests.Response, status: int, exception_type: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"Status", "ExceptionType", "ExceptionMessage"}
    assert body["Status"] == "Error"
    assert body["ExceptionType"] == exception_type
    assert body["ExceptionMessage"]
    return body


@pytest.mark.parametrize("via", ["headers", "query"])
@pytest.mark.parametrize("host", [region.host for region in REGIONS.values()])
def test_user_by_access_key_answers_on_every_regional_host(
    fresh_sandbox: Sandbox, sf_session: requests.Session, host: str, via: str
) -> None:
    summary = tenant(fresh_sandbox, "wrong-lsq-region")
    auth: dict[str, Any] = (
        {"headers": key_headers(summary)} if via == "headers" else {"params": key_params(summary)}
    )
    response = sf_session.get(f"https://{host}{AUTH_PATH}", **auth)

    assert response.status_code == 200
    body = response.json()
    assert set(body) >= USER_FIELDS
    assert "Status" not in body  # clients tell success from failure by the absence of Status
    assert body["LSQCommonServiceURLs"]["api"] == "api-in21.leadsquared.com"
    assert {"app", "tracking"} <= set(body["LSQCommonServiceURLs"])
    assert body["PassPhrase"] == summary["user_email"]
    assert (body["Role"], body["OrgId"], body["Type"], body["UserType"]) == (
        "Administrator",
        summary["org_id"],
        "ApplicationUser",
        "Regular",
    )


def test_paths_match_without_regard_to_case(fresh_sandbox: Sandbox, sf_session: requests.Session) -> None:
    summary = tenant(fresh_sandbox, "ready")
    response = sf_session.get(
        "https://api.leadsquared.com/V2/authentication.svc/userbyaccesskey.get", headers=key_headers(summary)
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "auth",
    [
        {},
        {"headers": {"x-LSQ-AccessKey": "u$r" + "0" * 32, "x-LSQ-SecretKey": "0" * 40}},
        {"params": {"accessKey": "u$r" + "0" * 32, "secretKey": "0" * 40}},
    ],
    ids=["missing", "unknown-headers", "unknown-query"],
)
def test_bad_keys_get_401(sf_session: requests.Session, sandbox: Sandbox, auth: dict[str, Any]) -> None:
    response = sf_session.get(f"https://api.leadsquared.com{AUTH_PATH}", **auth)
    assert_error(response, 401, "MXUnAuthorizedAccessException")


def test_wrong_secret_and_deactivated_user_get_401(
    fresh_sandbox: Sandbox, sf_session: requests.Session
) -> None:
    ready = key_headers(tenant(fresh_sandbox, "ready"))
    ready["x-LSQ-SecretKey"] = "f" * 40
    assert_error(
        sf_session.get(f"https://api.leadsquared.com{AUTH_PATH}", headers=ready),
        401,
        "MXUnAuthorizedAccessException",
    )
    inactive = key_headers(tenant(fresh_sandbox, "bad-lsq-keys"))
    for path in (AUTH_PATH, USERS_PATH):
        assert_error(
            sf_session.get(f"https://api.leadsquared.com{path}", headers=inactive),
            401,
            "MXUnAuthorizedAccessException",
        )


def test_users_get_on_a_wrong_host_names_the_right_one(
    fresh_sandbox: Sandbox, sf_session: requests.Session
) -> None:
    summary = tenant(fresh_sandbox, "wrong-lsq-region")
    wrong = sf_session.get(f"https://{summary['configured_host']}{USERS_PATH}", headers=key_headers(summary))
    body = assert_error(wrong, 401, "MXUnAuthorizedAccessException")
    assert "api-in21.leadsquared.com" in body["ExceptionMessage"]

    right = sf_session.get(f"https://{summary['host']}{USERS_PATH}", params=key_params(summary))
    assert right.status_code == 200
    users = right.json()
    assert isinstance(users, list) and len(users) == 2
    for user in users:
        assert {"ID", "FirstName", "LastName", "EmailAddress", "Role", "StatusCode"} <= set(user)
        assert user["StatusCode"] in (0, 1)
    assert summary["user_email"] in {user["EmailAddress"] for user in users}


def test_26th_call_in_5_seconds_gets_429(fresh_sandbox: Sandbox, sf_session: requests.Session) -> None:
    headers = key_headers(tenant(fresh_sandbox, "ready"))
    statuses = [
        sf_session.get(f"https://api.leadsquared.com{AUTH_PATH}", headers=headers).status_code
        for _ in range(25)
    ]
    assert statuses == [200] * 25
    limited = sf_session.get(f"https://api.leadsquared.com{USERS_PATH}", headers=headers)
    body = assert_error(limited, 429, "MXAPIRateLimitExceededException")
    assert body["ExceptionMessage"] == "API calls exceeded the limit of 25 in 5 second(s)"
    assert "Retry-After" not in limited.headers  # LeadSquared documents none
    other = sf_session.get(
        f"https://api.leadsquared.com{AUTH_PATH}", headers=key_headers(tenant(fresh_sandbox, "fresh"))
    )
    assert other.status_code == 200


def test_rate_limited_scenario_throttles_its_first_calls_inside_http_200(
    fresh_sandbox: Sandbox, sf_session: requests.Session
) -> None:
    headers = key_headers(tenant(fresh_sandbox, "rate-limited"))
    throttled_calls = fresh_sandbox.app.scenario_of("rate-limited").lsq_throttled_calls  # type: ignore[union-attr]
    for _ in range(throttled_calls):
        response = sf_session.get(f"https://api.leadsquared.com{AUTH_PATH}", headers=headers)
        assert_error(response, 200, "MXAPIRateLimitExceededException")
    response = sf_session.get(f"https://api.leadsquared.com{AUTH_PATH}", headers=headers)
    assert response.status_code == 200 and "Status" not in response.json()


def test_unknown_path_gets_404_json(sandbox: Sandbox, sf_session: requests.Session) -> None:
    response = sf_session.get("https://api-us11.leadsquared.com/v2/LeadManagement.svc/Leads.Nothing")
    body = assert_error(response, 404, "MXEndpointNotFoundException")
    assert "/v2/LeadManagement.svc/Leads.Nothing" in body["ExceptionMessage"]


def test_post_to_a_get_endpoint_gets_405_with_allow(sandbox: Sandbox, sf_session: requests.Session) -> None:
    response = sf_session.post(f"https://api.leadsquared.com{AUTH_PATH}", json={})
    assert_error(response, 405, "MXMethodNotAllowedException")
    assert response.headers["Allow"] == "GET"


def test_undocumented_host_of_the_api_shape_is_misdirected(
    sandbox: Sandbox, sf_session: requests.Session
) -> None:
    for path in (AUTH_PATH, "/v2/Nothing"):
        response = sf_session.get(f"https://api-eu21.leadsquared.com{path}")
        assert response.status_code == 421
        assert "api-eu21.leadsquared.com" in response.text


def test_calls_are_logged_against_the_org_whose_keys_they_carry(
    fresh_sandbox: Sandbox, sf_session: requests.Session
) -> None:
    sf_session.get(
        f"https://api.leadsquared.com{AUTH_PATH}", headers=key_headers(tenant(fresh_sandbox, "not-admin"))
    )
    sf_session.get(
        f"https://api.leadsquared.com{AUTH_PATH}", params=key_params(tenant(fresh_sandbox, "not-admin"))
    )
    sf_session.get(f"https://api.leadsquared.com{AUTH_PATH}")
    by_org = fresh_sandbox.app.calls.summary()["by_org"]
    assert by_org["not-admin"] == {"lsq": 2}
    assert by_org["-"] == {"lsq": 1}
