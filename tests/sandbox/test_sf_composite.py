"""The sandbox's composite resources, driven by simple-salesforce over loopback: shape (as recorded from a
real org), references, per-subrequest errors, allOrNone roll-back, limits, and one API request per call."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce, SalesforceMalformedRequest
from simple_salesforce.format import format_soql

from lsqsf_helpers.sandbox import Sandbox
from tests.sandbox.test_sf_wire import password_login, summary

V = "/services/data/v59.0"


def composite(
    sf: Salesforce, subrequests: list[dict[str, Any]], *, tooling: bool = False, **extra: Any
) -> Any:
    return sf.restful(
        "tooling/composite" if tooling else "composite",
        method="POST",
        json={"compositeRequest": subrequests, **extra},
    )


def query(ref: str, soql: str, *, tooling: bool = False) -> dict[str, Any]:
    path = "tooling/query" if tooling else "query"
    return {"method": "GET", "url": f"{V}/{path}/?q={soql}", "referenceId": ref}


def test_shape_matches_the_recorded_answer(sandbox: Sandbox, sf_session: requests.Session) -> None:
    # recorded/composite-with-INVALID_TYPE.json (a real org, via CumulusCI's cassettes): each result has
    # exactly these keys; a failed query answers 400 with a list of {message, errorCode}.
    keys = {"body", "httpHeaders", "httpStatusCode", "referenceId"}
    sf = password_login(sandbox, sf_session, "ready")
    answer = composite(
        sf, [query("refUser", "SELECT Id FROM User"), query("refXYZZY", "SELECT Id FROM XYZZY")]
    )
    assert set(answer) == {"compositeResponse"}
    ok, bad = answer["compositeResponse"]
    assert set(ok) == set(bad) == keys
    assert (ok["httpStatusCode"], ok["referenceId"], ok["httpHeaders"]) == (200, "refUser", {})
    assert ok["body"]["done"] is True and ok["body"]["records"][0]["attributes"]["type"] == "User"
    assert (bad["httpStatusCode"], bad["referenceId"]) == (400, "refXYZZY")
    assert [set(e) for e in bad["body"]] == [{"message", "errorCode"}]
    assert bad["body"][0]["errorCode"] == "INVALID_TYPE"
    assert "sObject type 'XYZZY' is not supported" in bad["body"][0]["message"]


def test_references_feed_later_subrequests(sandbox: Sandbox, sf_session: requests.Session) -> None:
    s = summary(sandbox, "not-admin")
    sf = password_login(sandbox, sf_session, "not-admin")
    user_q = format_soql("SELECT Id, Username FROM User WHERE Username = {}", s["username"])
    psa_q = format_soql(
        "SELECT PermissionSet.PermissionsModifyAllData FROM PermissionSetAssignment WHERE AssigneeId = {}",
        "@{refUser.records[0].Id}",
    )
    answer = composite(
        sf,
        [
            query("refUser", user_q),
            query("refPsa", psa_q),
            {
                "method": "GET",
                "url": f"{V}/sobjects/User/@{{refUser.records[0].Id}}",
                "referenceId": "refGet",
            },
        ],
    )
    user, psa, got = answer["compositeResponse"]
    assert user["body"]["records"][0]["Id"] == s["user_id"]
    assert psa["httpStatusCode"] == 200 and psa["body"]["totalSize"] >= 1
    assert got["body"]["Id"] == s["user_id"]


def test_a_reference_to_nothing_halts_that_subrequest_only(
    sandbox: Sandbox, sf_session: requests.Session
) -> None:
    sf = password_login(sandbox, sf_session, "ready")
    nobody = format_soql("SELECT Id FROM User WHERE Username = {}", "nobody@example.invalid")
    answer = composite(
        sf,
        [
            query("refNobody", nobody),
            {
                "method": "GET",
                "url": f"{V}/sobjects/User/@{{refNobody.records[0].Id}}",
                "referenceId": "refGet",
            },
            query("refOrg", "SELECT Id FROM Organization"),
        ],
    )
    nobody_r, halted, org = answer["compositeResponse"]
    assert nobody_r["body"]["totalSize"] == 0
    assert halted["httpStatusCode"] == 400 and halted["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert "refNobody.records[0].Id" in halted["body"][0]["message"]
    assert org["httpStatusCode"] == 200 and org["body"]["totalSize"] == 1


def test_tooling_composite_reads_tooling_objects(sandbox: Sandbox, sf_session: requests.Session) -> None:
    sf = password_login(sandbox, sf_session, "ready")
    answer = composite(
        sf,
        [
            query(
                "refPkg",
                "SELECT Id, SubscriberPackage.NamespacePrefix FROM InstalledSubscriberPackage",
                tooling=True,
            ),
            query("refSite", "SELECT Id, SiteName FROM RemoteProxy", tooling=True),
            query("refUser", "SELECT Id FROM User", tooling=True),
        ],
        tooling=True,
    )
    pkg, site, user = answer["compositeResponse"]
    assert pkg["httpStatusCode"] == 200 and pkg["body"]["entityTypeName"] == "InstalledSubscriberPackage"
    assert pkg["body"]["records"][0]["SubscriberPackage"]["NamespacePrefix"] == "lsqfake"
    assert site["httpStatusCode"] == 200 and "size" in site["body"]
    assert user["httpStatusCode"] == 400 and user["body"][0]["errorCode"] == "INVALID_TYPE"
    # a REST composite cannot address Tooling resources, nor the Tooling composite REST ones
    rest = composite(sf, [query("refPkg", "SELECT Id FROM InstalledSubscriberPackage", tooling=True)])
    assert rest["compositeResponse"][0]["httpStatusCode"] == 404
    tool = composite(sf, [query("refUser", "SELECT Id FROM User")], tooling=True)
    assert tool["compositeResponse"][0]["httpStatusCode"] == 404


def test_all_or_none_rolls_back_the_writes(fresh_sandbox: Sandbox, sf_session: requests.Session) -> None:
    s = summary(fresh_sandbox, "lightning")
    sf = password_login(fresh_sandbox, sf_session, "lightning")
    patch = {
        "method": "PATCH",
        "url": f"{V}/sobjects/User/{s['user_id']}",
        "referenceId": "refPatch",
        "body": {"UserPreferencesLightningExperiencePreferred": False},
    }
    bad = {
        "method": "PATCH",
        "url": f"{V}/sobjects/User/{s['user_id']}",
        "referenceId": "refBad",
        "body": {"NoSuchField__c": True},
    }
    after = query("refAfter", "SELECT Id FROM Organization")
    answer = composite(sf, [patch, bad, after], allOrNone=True)
    first, failed, skipped = answer["compositeResponse"]
    assert failed["httpStatusCode"] == 400 and failed["body"][0]["errorCode"] == "INVALID_FIELD"
    for halted in (first, skipped):
        assert halted["httpStatusCode"] == 400 and halted["body"][0]["errorCode"] == "PROCESSING_HALTED"
    soql = format_soql(
        "SELECT UserPreferencesLightningExperiencePreferred FROM User WHERE Id = {}", s["user_id"]
    )
    assert sf.query(soql)["records"][0]["UserPreferencesLightningExperiencePreferred"] is True
    # without allOrNone the good write stays
    answer = composite(sf, [patch, bad])
    assert [r["httpStatusCode"] for r in answer["compositeResponse"]] == [204, 400]
    assert answer["compositeResponse"][0]["body"] is None
    assert sf.query(soql)["records"][0]["UserPreferencesLightningExperiencePreferred"] is False


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "JSON_PARSER_ERROR"),
        ({"compositeRequest": []}, "INVALID_INPUT"),
        (
            {"compositeRequest": [query(f"r{i}", "SELECT Id FROM Organization") for i in range(6)]},
            "LIMIT_EXCEEDED",
        ),
        (
            {
                "compositeRequest": [
                    {"method": "GET", "url": f"{V}/limits", "referenceId": f"r{i}"} for i in range(26)
                ]
            },
            "LIMIT_EXCEEDED",
        ),
        ({"compositeRequest": [query("bad-ref", "SELECT Id FROM Organization")]}, "INVALID_INPUT"),
        ({"compositeRequest": [query("r", "SELECT Id FROM Organization")] * 2}, "INVALID_INPUT"),
        (
            {"compositeRequest": [{"method": "PUT", "url": f"{V}/limits", "referenceId": "r"}]},
            "INVALID_INPUT",
        ),
        (
            {"compositeRequest": [{"method": "GET", "url": "https://elsewhere/x", "referenceId": "r"}]},
            "INVALID_INPUT",
        ),
        (
            {"compositeRequest": [query("r", "SELECT Id FROM Organization")], "allOrNone": "yes"},
            "JSON_PARSER_ERROR",
        ),
    ],
)
def test_bad_bodies_are_refused_whole_and_change_nothing(
    sandbox: Sandbox, sf_session: requests.Session, body: dict[str, Any], code: str
) -> None:
    sf = password_login(sandbox, sf_session, "ready")
    before = summary(sandbox, "ready")["api_requests"]["used"]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.restful("composite", method="POST", json=body)
    assert err.value.status == 400 and err.value.content[0]["errorCode"] == code
    assert summary(sandbox, "ready")["api_requests"]["used"] == before + 1


def test_one_call_one_api_request_and_a_read_in_the_call_log(
    fresh_sandbox: Sandbox, sf_session: requests.Session
) -> None:
    sf = password_login(fresh_sandbox, sf_session, "ready")
    before = summary(fresh_sandbox, "ready")["api_requests"]["used"]
    fresh_sandbox.app.calls.clear()
    composite(sf, [query(f"r{i}", "SELECT Id FROM Organization") for i in range(5)])
    assert summary(fresh_sandbox, "ready")["api_requests"]["used"] == before + 1
    calls = fresh_sandbox.app.calls.summary()["calls"]
    assert [(c["method"], c["api"], c["read"]) for c in calls] == [("POST", "sf.rest", True)]
    s = summary(fresh_sandbox, "ready")
    composite(
        sf,
        [
            {
                "method": "PATCH",
                "url": f"{V}/sobjects/User/{s['user_id']}",
                "referenceId": "p",
                "body": {"UserPreferencesLightningExperiencePreferred": False},
            }
        ],
    )
    assert fresh_sandbox.app.calls.summary()["calls"][-1]["read"] is False
