"""SalesforceModel without HTTP: orgs built from scenarios and the rules the wire relies on."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jwt
import pytest

from lsqsf_helpers import sfid
from lsqsf_helpers.sandbox import scenarios
from lsqsf_helpers.sandbox.salesforce import models
from lsqsf_helpers.sandbox.salesforce.models import (
    ApiError,
    LoginError,
    MetadataFault,
    OAuthError,
    SalesforceModel,
)


def build(*names: str) -> SalesforceModel:
    model = SalesforceModel()
    for name in names or tuple(scenarios.SCENARIOS):
        model.add_org(name, scenarios.get(name))
    return model


def login(model: SalesforceModel, label: str) -> models.Session:
    org = model.orgs[label]
    result = model.soap_login(org.login_host, org.username, org.password + org.security_token, "59.0")
    return model.sessions[result.session_id]


def query(model: SalesforceModel, label: str, soql: str, api: str = "rest") -> dict[str, Any]:
    return model.query(model.orgs[label], api, soql, "59.0")


@pytest.fixture(scope="module")
def all_orgs() -> SalesforceModel:
    return build()


# ----- orgs from scenarios --------------------------------------------------------------------


@pytest.mark.parametrize("name", list(scenarios.SCENARIOS))
def test_every_scenario_builds_an_org_with_real_looking_ids(all_orgs: SalesforceModel, name: str) -> None:
    spec = scenarios.get(name)
    org = all_orgs.orgs[name]
    summary = all_orgs.org_summary(name)
    assert sfid.is_valid(summary["org_id"], "00D") and len(summary["org_id"]) == 18
    assert sfid.is_valid(summary["user_id"], "005") and len(summary["user_id"]) == 18
    assert summary["is_sandbox"] is spec.is_sandbox
    assert summary["edition"] == spec.edition
    my_domain_name = f"lsqsf-{name}".replace("-api", "api")
    assert summary["my_domain_name"] == my_domain_name
    if spec.is_sandbox:
        assert summary["my_domain"] == f"{my_domain_name}--uat.sandbox.my.salesforce.com"
        assert summary["login_host"] == "test.salesforce.com"
    else:
        assert summary["my_domain"] == f"{my_domain_name}.my.salesforce.com"
        assert summary["login_host"] == "login.salesforce.com"
    assert summary["instance_url"] == f"https://{summary['my_domain']}"
    assert len(summary["security_token"]) == 24 and summary["security_token"].isalnum()
    assert summary["consumer_key"].startswith("3MVG9") and summary["jwt_consumer_key"].startswith("3MVG9")
    assert summary["jwt_private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    # state follows the spec
    user = org.user
    assert user["UserPreferencesLightningExperiencePreferred"] is spec.lightning_preferred
    assert org.permissions(org.user_id)["PermissionsModifyAllData"] is spec.user_is_admin
    assert (org.installed is not None) is spec.package_installed
    site = org.remote_sites.get("lsqconnectorurl")
    assert (site is None) is (spec.remote_site == "missing")
    if site is not None:
        assert site.is_active is (spec.remote_site != "inactive")
        expected = (
            scenarios.WRONG_REMOTE_SITE_URL if spec.remote_site == "wrong_url" else org.connector_page_origin
        )
        assert site.url == expected
    for row in (*org.tables["User"], *org.tables["Profile"], *org.tables["PermissionSet"]):
        assert len(row["Id"]) == 18 and sfid.is_valid(row["Id"])


def test_credentials_and_ids_are_deterministic_per_label() -> None:
    first, second = build("ready"), build("ready")
    a, b = first.org_summary("ready"), second.org_summary("ready")
    assert a == b
    assert first.org_summary("ready")["org_id"] != build("fresh").org_summary("fresh")["org_id"]


def test_sandbox_org_uses_sandbox_conventions(all_orgs: SalesforceModel) -> None:
    org = all_orgs.orgs["sandbox-org"]
    assert org.username.endswith(".uat")
    assert org.user["Email"].endswith(".invalid")
    assert org.connector_page_origin == "https://lsqsf-sandbox-org--uat--lsqfake.sandbox.vf.force.com"
    assert org.tables["Organization"][0]["IsSandbox"] is True


def test_my_domain_avoids_what_simple_salesforce_strips() -> None:
    # simple-salesforce's soap_login removes "-api" from the serverUrl host (login.py)
    assert models.my_domain_for("ready") == "lsqsf-ready"
    assert models.my_domain_for("no-api-access") == "lsqsf-noapi-access"
    assert models.my_domain_for("api") == "lsqsfapi"
    assert "-api" not in models.my_domain_for("x-api-api-y")


def test_org_for_host(all_orgs: SalesforceModel) -> None:
    assert all_orgs.org_for_host("lsqsf-ready.my.salesforce.com") == "ready"
    assert all_orgs.org_for_host("LSQSF-READY.my.salesforce.com") == "ready"
    assert all_orgs.org_for_host("lsqsf-sandbox-org--uat.sandbox.my.salesforce.com") == "sandbox-org"
    assert all_orgs.org_for_host("login.salesforce.com") is None
    assert all_orgs.org_for_host("test.salesforce.com") is None
    assert all_orgs.org_for_host("lsqsf-nobody.my.salesforce.com") is None


def test_bad_labels_and_duplicates_are_refused() -> None:
    model = build("ready")
    with pytest.raises(ValueError):
        model.add_org("ready", scenarios.get("ready"))
    with pytest.raises(ValueError):
        model.add_org("Bad Label", scenarios.get("ready"))


# ----- login and sessions ---------------------------------------------------------------------


def test_soap_login_needs_password_plus_token_and_the_right_host(all_orgs: SalesforceModel) -> None:
    org = all_orgs.orgs["ready"]
    good = org.password + org.security_token
    assert all_orgs.soap_login("login.salesforce.com", org.username, good, "59.0").org is org
    assert all_orgs.soap_login(org.host, org.username.upper(), good, "59.0").org is org
    for host, username, password in (
        ("login.salesforce.com", org.username, org.password),  # token missing
        ("login.salesforce.com", org.username, good + "x"),
        ("test.salesforce.com", org.username, good),  # production user on the sandbox login host
        ("lsqsf-fresh.my.salesforce.com", org.username, good),  # another org's My Domain
        ("login.salesforce.com", None, good),
    ):
        with pytest.raises(LoginError) as err:
            all_orgs.soap_login(host, username, password, "59.0")
        assert err.value.code == "INVALID_LOGIN"
    sbx = all_orgs.orgs["sandbox-org"]
    assert all_orgs.soap_login("test.salesforce.com", sbx.username, sbx.password + sbx.security_token, "59.0")
    with pytest.raises(LoginError):
        all_orgs.soap_login("login.salesforce.com", sbx.username, sbx.password + sbx.security_token, "59.0")


def test_session_ids_look_like_salesforce_and_expire_per_org() -> None:
    model = build("ready", "fresh")
    ready, fresh = login(model, "ready"), login(model, "fresh")
    assert ready.token.startswith(model.orgs["ready"].org_id15 + "!")
    model.begin_call("ready", ready.token, "rest")
    with pytest.raises(ApiError) as err:
        model.begin_call("fresh", ready.token, "rest")  # a session is valid on its own org only
    assert (err.value.status, err.value.error_code) == (401, "INVALID_SESSION_ID")
    model.expire_sessions("ready")
    with pytest.raises(ApiError) as err:
        model.begin_call("ready", ready.token, "rest")
    assert err.value.body() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    model.begin_call("fresh", fresh.token, "rest")  # other orgs keep their sessions


def test_api_disabled_and_exhausted_orgs_refuse_calls_but_log_in() -> None:
    model = build("no-api-access", "rate-limited")
    session = login(model, "no-api-access")
    with pytest.raises(ApiError) as err:
        model.begin_call("no-api-access", session.token, "tooling")
    assert (err.value.status, err.value.error_code) == (403, "API_DISABLED_FOR_ORG")
    assert err.value.message == "The REST API is not enabled for this Organization."
    session = login(model, "rate-limited")
    with pytest.raises(ApiError) as err:
        model.begin_call("rate-limited", session.token, "rest")
    assert (err.value.status, err.value.error_code, err.value.message) == (
        403,
        "REQUEST_LIMIT_EXCEEDED",
        "TotalRequests Limit exceeded.",
    )


def test_calls_are_counted_until_the_daily_limit() -> None:
    model = build("ready")
    session = login(model, "ready")
    model.begin_call("ready", session.token, "rest")
    model.begin_call("ready", session.token, "tooling")
    assert model.limit_info("ready") == "api-usage=2/15000"
    model.orgs["ready"].api_used = models.DAILY_API_REQUESTS - 1
    model.begin_call("ready", session.token, "rest")
    with pytest.raises(ApiError) as err:
        model.begin_call("ready", session.token, "rest")
    assert err.value.error_code == "REQUEST_LIMIT_EXCEEDED"
    assert model.limits(model.orgs["ready"])["DailyApiRequests"] == {"Max": 15000, "Remaining": 0}


# ----- OAuth ----------------------------------------------------------------------------------


def _assertion(org: models.Org, **overrides: Any) -> str:
    claims: dict[str, Any] = {
        "iss": org.jwt_consumer_key,
        "sub": org.username,
        "aud": f"https://{org.login_host}",
        "exp": f"{time.time() + 180:.0f}",  # simple-salesforce sends exp as a string
    }
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, models.jwt_key_pair()[0], "RS256")


def test_jwt_bearer_rules() -> None:
    model = build("ready", "sandbox-org")
    org = model.orgs["ready"]
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    token = model.oauth_token(
        "login.salesforce.com", {"grant_type": grant, "assertion": _assertion(org)}, None
    )
    assert token["instance_url"] == "https://lsqsf-ready.my.salesforce.com"
    assert token["id"] == f"https://login.salesforce.com/id/{org.org_id}/{org.user_id}"
    assert token["token_type"] == "Bearer" and token["access_token"] in model.sessions
    # the My Domain accepts its own URL as audience too
    model.oauth_token(
        org.host, {"grant_type": grant, "assertion": _assertion(org, aud=org.instance_url)}, None
    )
    cases = [
        (_assertion(org, iss="3MVG9unknown"), "invalid_client_id"),
        (_assertion(org, aud="https://test.salesforce.com"), "invalid_grant"),
        (_assertion(org, exp=f"{time.time() - 5:.0f}"), "invalid_grant"),
        (_assertion(org, exp=None), "invalid_grant"),
        (_assertion(org, sub="someone@else.example"), "invalid_grant"),
        ("not-a-jwt", "invalid_grant"),
    ]
    for assertion, error in cases:
        with pytest.raises(OAuthError) as err:
            model.oauth_token("login.salesforce.com", {"grant_type": grant, "assertion": assertion}, None)
        assert err.value.error == error, assertion
    # a key that is not the registered one
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    forged = jwt.encode(
        {
            "iss": org.jwt_consumer_key,
            "sub": org.username,
            "aud": "https://login.salesforce.com",
            "exp": int(time.time()) + 60,
        },
        other,
        "RS256",
    )
    with pytest.raises(OAuthError) as err:
        model.oauth_token("login.salesforce.com", {"grant_type": grant, "assertion": forged}, None)
    assert (err.value.error, err.value.description) == ("invalid_grant", "invalid assertion")
    # sandbox orgs: test.salesforce.com is the audience and the login host
    sbx = model.orgs["sandbox-org"]
    model.oauth_token("test.salesforce.com", {"grant_type": grant, "assertion": _assertion(sbx)}, None)
    with pytest.raises(OAuthError):
        model.oauth_token("login.salesforce.com", {"grant_type": grant, "assertion": _assertion(sbx)}, None)


def test_client_credentials_only_on_my_domain() -> None:
    model = build("ready")
    org = model.orgs["ready"]
    form = {"grant_type": "client_credentials"}
    assert model.oauth_token(org.host, form, (org.consumer_key, org.consumer_secret))["access_token"]
    with pytest.raises(OAuthError) as err:
        model.oauth_token("login.salesforce.com", form, (org.consumer_key, org.consumer_secret))
    assert (err.value.error, err.value.description) == (
        "invalid_grant",
        "request not supported on this domain",
    )
    with pytest.raises(OAuthError) as err:
        model.oauth_token(org.host, form, (org.consumer_key, "wrong"))
    assert err.value.error == "invalid_client"
    with pytest.raises(OAuthError) as err:
        model.oauth_token(org.host, form, ("3MVG9nope", org.consumer_secret))
    assert err.value.error == "invalid_client_id"
    with pytest.raises(OAuthError) as err:
        model.oauth_token(org.host, {"grant_type": "authorization_code"}, None)
    assert err.value.error == "unsupported_grant_type"


def test_userinfo_needs_a_live_token_on_the_right_host() -> None:
    model = build("ready", "fresh")
    session = login(model, "ready")
    info = model.userinfo("lsqsf-ready.my.salesforce.com", session.token)
    assert info is not None and info["user_id"] == model.orgs["ready"].user_id
    assert info["organization_id"] == model.orgs["ready"].org_id
    assert model.userinfo("login.salesforce.com", session.token) is not None
    assert model.userinfo("lsqsf-fresh.my.salesforce.com", session.token) is None
    assert model.userinfo("lsqsf-ready.my.salesforce.com", "bogus") is None


# ----- package install ------------------------------------------------------------------------


def _install(model: SalesforceModel, label: str, **body: Any) -> str:
    org = model.orgs[label]
    session = login(model, label)
    payload = {"SubscriberPackageVersionKey": scenarios.FAKE_PACKAGE_VERSION_ID, **body}
    return model.create_install_request(org, session, payload)


def _status(model: SalesforceModel, label: str, request_id: str) -> dict[str, Any]:
    result = query(
        model,
        label,
        f"SELECT Id, Status, Errors FROM PackageInstallRequest WHERE Id = '{request_id}'",
        "tooling",
    )
    record: dict[str, Any] = result["records"][0]
    return record


def test_install_goes_in_progress_twice_then_succeeds_and_activates_package_sites() -> None:
    model = build("fresh")
    request_id = _install(model, "fresh", SecurityType="full", EnableRss=True)
    assert request_id.startswith("0Hf") and len(request_id) == 18
    req = model.orgs["fresh"].install_requests[request_id]
    assert (req.security_type, req.enable_rss, req.name_conflict) == ("Full", True, "Block")
    assert [_status(model, "fresh", request_id)["Status"] for _ in range(3)] == [
        "IN_PROGRESS",
        "IN_PROGRESS",
        "SUCCESS",
    ]
    assert _status(model, "fresh", request_id)["Errors"] is None
    installed = query(
        model, "fresh", "SELECT SubscriberPackage.NamespacePrefix FROM InstalledSubscriberPackage", "tooling"
    )
    assert installed["records"][0]["SubscriberPackage"]["NamespacePrefix"] == "lsqfake"
    sites = query(model, "fresh", "SELECT SiteName, NamespacePrefix, IsActive FROM RemoteProxy", "tooling")[
        "records"
    ]
    assert [(s["SiteName"], s["NamespacePrefix"], s["IsActive"]) for s in sites] == [
        ("LSQ_API", "lsqfake", True)
    ]


def test_install_without_enable_rss_leaves_package_sites_inactive() -> None:
    model = build("fresh")
    request_id = _install(model, "fresh")
    for _ in range(3):
        _status(model, "fresh", request_id)
    req = model.orgs["fresh"].install_requests[request_id]
    assert (req.status, req.security_type, req.enable_rss) == ("SUCCESS", "None", False)
    assert model.orgs["fresh"].remote_sites["lsqfake__lsq_api"].is_active is False
    assert "lsqconnectorurl" not in model.orgs["fresh"].remote_sites  # the admin must add it


def test_install_error_outcome() -> None:
    model = SalesforceModel()
    model.add_org(
        "broken", dataclasses.replace(scenarios.get("fresh"), name="broken", install_outcome="ERROR")
    )
    request_id = _install(model, "broken", SecurityType="Full", EnableRss=True)
    statuses = [_status(model, "broken", request_id) for _ in range(3)]
    assert [s["Status"] for s in statuses] == ["IN_PROGRESS", "IN_PROGRESS", "ERROR"]
    assert statuses[-1]["Errors"]["errors"][0]["message"]
    assert model.orgs["broken"].installed is None


def test_installing_the_installed_version_ends_in_error() -> None:
    model = build("ready")
    request_id = _install(model, "ready", SecurityType="Full")
    for _ in range(3):
        status = _status(model, "ready", request_id)
    assert status["Status"] == "ERROR"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "REQUIRED_FIELD_MISSING"),
        ({"SubscriberPackageVersionKey": "nope"}, "MALFORMED_ID"),
        ({"SubscriberPackageVersionKey": "04t000000000001"}, "INVALID_CROSS_REFERENCE_KEY"),
        (
            {"SubscriberPackageVersionKey": scenarios.FAKE_PACKAGE_VERSION_ID, "SecurityType": "Everyone"},
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        ),
        (
            {"SubscriberPackageVersionKey": scenarios.FAKE_PACKAGE_VERSION_ID, "EnableRss": "yes"},
            "JSON_PARSER_ERROR",
        ),
        ({"SubscriberPackageVersionKey": scenarios.FAKE_PACKAGE_VERSION_ID, "Bogus": 1}, "INVALID_FIELD"),
        (
            {"SubscriberPackageVersionKey": scenarios.FAKE_PACKAGE_VERSION_ID, "Status": "SUCCESS"},
            "INVALID_FIELD_FOR_INSERT_UPDATE",
        ),
    ],
)
def test_install_request_validation(body: dict[str, Any], code: str) -> None:
    model = build("fresh")
    session = login(model, "fresh")
    with pytest.raises(ApiError) as err:
        model.create_install_request(model.orgs["fresh"], session, body)
    assert (err.value.status, err.value.error_code) == (400, code)


def test_standard_user_cannot_install() -> None:
    model = build("not-admin")
    with pytest.raises(ApiError) as err:
        _install(model, "not-admin")
    assert err.value.error_code == "INSUFFICIENT_ACCESS_OR_READONLY"


# ----- user updates ---------------------------------------------------------------------------


def test_user_patch_rules() -> None:
    model = build("lightning")
    org = model.orgs["lightning"]
    session = login(model, "lightning")
    model.update_record(
        org, session, "user", org.user_id[:15], {"userpreferenceslightningexperiencepreferred": False}
    )
    assert org.user["UserPreferencesLightningExperiencePreferred"] is False
    cases: list[tuple[Any, int, str]] = [
        ({"NoSuchField": 1}, 400, "INVALID_FIELD"),
        ({"Username": "x@y.example"}, 400, "INVALID_FIELD_FOR_INSERT_UPDATE"),
        ({"UserPreferencesLightningExperiencePreferred": "false"}, 400, "JSON_PARSER_ERROR"),
        ([1, 2], 400, "JSON_PARSER_ERROR"),
    ]
    for body, status, code in cases:
        with pytest.raises(ApiError) as err:
            model.update_record(org, session, "User", org.user_id, body)
        assert (err.value.status, err.value.error_code) == (status, code)
    with pytest.raises(ApiError) as err:
        model.update_record(org, session, "User", sfid.mint("005", "5g", 1), {"FirstName": "X"})
    assert (err.value.status, err.value.error_code) == (404, "NOT_FOUND")
    with pytest.raises(ApiError) as err:
        model.update_record(org, session, "Gizmo", org.user_id, {})
    assert err.value.status == 404


def test_standard_user_may_update_only_itself() -> None:
    model = build("not-admin")
    org = model.orgs["not-admin"]
    session = login(model, "not-admin")
    model.update_record(
        org, session, "User", org.user_id, {"UserPreferencesLightningExperiencePreferred": True}
    )
    owner = next(u for u in org.tables["User"] if u["Id"] != org.user_id)
    with pytest.raises(ApiError) as err:
        model.update_record(org, session, "User", owner["Id"], {"FirstName": "Eve"})
    assert err.value.error_code == "INSUFFICIENT_ACCESS_OR_READONLY"


# ----- remote sites (Metadata API rules) ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("LSQConnectorURL2", None),
        ("a", None),
        ("A1_b2", None),
        ("1Site", "FIELD_INTEGRITY_EXCEPTION"),
        ("_Site", "FIELD_INTEGRITY_EXCEPTION"),
        ("Site_", "FIELD_INTEGRITY_EXCEPTION"),
        ("My__Site", "FIELD_INTEGRITY_EXCEPTION"),
        ("My Site", "FIELD_INTEGRITY_EXCEPTION"),
        ("My-Site", "FIELD_INTEGRITY_EXCEPTION"),
        ("A" * 40, None),
        ("A" * 41, "STRING_TOO_LONG"),
        ("", "REQUIRED_FIELD_MISSING"),
    ],
)
def test_remote_site_name_rules(name: str, code: str | None) -> None:
    model = build("no-remote-site")
    org = model.orgs["no-remote-site"]
    [outcome] = model.save_metadata(
        org,
        "create",
        "RemoteSiteSetting",
        [{"fullName": name, "url": "https://x.example.com", "isActive": True}],
    )
    if code is None:
        assert outcome.success and outcome.created
    else:
        assert not outcome.success
        assert outcome.errors[0][0] == code


@pytest.mark.parametrize("url", ["ftp://x.example.com", "x.example.com", "https://", "https://a b.com", None])
def test_remote_site_url_rules(url: str | None) -> None:
    model = build("no-remote-site")
    [outcome] = model.save_metadata(
        model.orgs["no-remote-site"],
        "upsert",
        "RemoteSiteSetting",
        [{"fullName": "Ok", "url": url, "isActive": True}],
    )
    assert not outcome.success
    assert outcome.errors[0][0] in ("FIELD_INTEGRITY_EXCEPTION", "REQUIRED_FIELD_MISSING")


def test_create_update_upsert_delete_remote_sites() -> None:
    model = build("wrong-remote-site")
    org = model.orgs["wrong-remote-site"]
    good = {"fullName": "LSQConnectorURL", "url": org.connector_page_origin, "isActive": True}
    [dup] = model.save_metadata(org, "create", "RemoteSiteSetting", [good])
    assert not dup.success and dup.errors[0][0] == "DUPLICATE_DEVELOPER_NAME"
    [up] = model.save_metadata(org, "upsert", "RemoteSiteSetting", [dict(good, fullName="lsqconnectorurl")])
    assert up.success and not up.created and up.full_name == "LSQConnectorURL"
    assert org.remote_sites["lsqconnectorurl"].url == org.connector_page_origin
    [missing] = model.save_metadata(org, "update", "RemoteSiteSetting", [dict(good, fullName="Other")])
    assert missing.errors[0][0] == "INVALID_CROSS_REFERENCE_KEY"
    [site, nothing] = model.read_metadata(org, "RemoteSiteSetting", ["LSQConnectorURL", "Other"])
    assert site is not None and site.is_active and nothing is None
    [deleted, gone] = model.delete_metadata(org, "RemoteSiteSetting", ["LSQConnectorURL", "Other"])
    assert deleted.success and not gone.success
    with pytest.raises(MetadataFault) as err:
        model.read_metadata(org, "CustomObject", ["Account"])
    assert err.value.code == "INVALID_TYPE"
    with pytest.raises(MetadataFault) as err:
        model.read_metadata(org, "RemoteSiteSetting", [f"S{i}" for i in range(11)])
    assert err.value.code == "LIMIT_EXCEEDED"


def test_metadata_needs_modify_all_data() -> None:
    model = build("not-admin", "ready")
    with pytest.raises(MetadataFault) as err:
        model.require_metadata_access(model.orgs["not-admin"], login(model, "not-admin"))
    assert err.value.code == "INSUFFICIENT_ACCESS"
    model.require_metadata_access(model.orgs["ready"], login(model, "ready"))


def test_remote_proxy_reflects_metadata_writes() -> None:
    model = build("no-remote-site")
    org = model.orgs["no-remote-site"]
    model.save_metadata(
        org,
        "upsert",
        "RemoteSiteSetting",
        [
            {
                "fullName": "LSQConnectorURL",
                "url": org.connector_page_origin,
                "isActive": True,
                "description": "d",
            }
        ],
    )
    rows = query(
        model,
        "no-remote-site",
        "SELECT Id, SiteName, EndpointUrl, IsActive, Description, FullName, Metadata FROM RemoteProxy "
        "WHERE SiteName = 'lsqconnectorurl'",
        "tooling",
    )["records"]
    assert len(rows) == 1
    row = rows[0]
    assert row["Id"].startswith("0rp") and row["SiteName"] == "LSQConnectorURL"
    assert (row["EndpointUrl"], row["IsActive"], row["FullName"]) == (
        org.connector_page_origin,
        True,
        "LSQConnectorURL",
    )
    assert row["Metadata"]["url"] == org.connector_page_origin


def test_organization_record_has_the_recorded_shape(all_orgs: SalesforceModel) -> None:
    # the keys, in order, of a real org's answer (recorded/sobjects-Organization-get.json)
    expected_keys = [
        "attributes",
        "Id",
        "Name",
        "Division",
        "Street",
        "City",
        "State",
        "PostalCode",
        "Country",
        "Latitude",
        "Longitude",
        "GeocodeAccuracy",
        "Address",
        "Phone",
        "Fax",
        "PrimaryContact",
        "DefaultLocaleSidKey",
        "TimeZoneSidKey",
        "LanguageLocaleKey",
        "ReceivesInfoEmails",
        "ReceivesAdminInfoEmails",
        "PreferencesRequireOpportunityProducts",
        "PreferencesTransactionSecurityPolicy",
        "PreferencesTerminateOldestSession",
        "PreferencesConsentManagementEnabled",
        "PreferencesAutoSelectIndividualOnMerge",
        "PreferencesLightningLoginEnabled",
        "PreferencesOnlyLLPermUserAllowed",
        "FiscalYearStartMonth",
        "UsesStartDateAsFiscalYearName",
        "DefaultAccountAccess",
        "DefaultContactAccess",
        "DefaultOpportunityAccess",
        "DefaultLeadAccess",
        "DefaultCaseAccess",
        "DefaultCalendarAccess",
        "DefaultPricebookAccess",
        "DefaultCampaignAccess",
        "SystemModstamp",
        "ComplianceBccEmail",
        "UiSkin",
        "SignupCountryIsoCode",
        "TrialExpirationDate",
        "NumKnowledgeService",
        "OrganizationType",
        "NamespacePrefix",
        "InstanceName",
        "IsSandbox",
        "WebToCaseDefaultOrigin",
        "MonthlyPageViewsUsed",
        "MonthlyPageViewsEntitlement",
        "IsReadOnly",
        "CreatedDate",
        "CreatedById",
        "LastModifiedDate",
        "LastModifiedById",
    ]
    record = all_orgs.get_record(
        all_orgs.orgs["ready"], "rest", "Organization", all_orgs.orgs["ready"].org_id, "59.0"
    )
    assert list(record) == expected_keys
    assert record["OrganizationType"] == "Enterprise Edition" and record["IsSandbox"] is False
    assert (
        record["attributes"]["url"]
        == f"/services/data/v59.0/sobjects/Organization/{all_orgs.orgs['ready'].org_id}"
    )
