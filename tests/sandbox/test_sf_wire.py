"""The Salesforce wire through the real clients (simple-salesforce, zeep, requests) over loopback.

Fixtures come from tests/conftest.py: `sandbox` (every scenario, module scope), `fresh_sandbox`
(the same, reset first) and `sf_session` (a requests.Session routed to the sandbox).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import simple_salesforce
import zeep
import zeep.exceptions
from simple_salesforce import (
    Salesforce,
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
    format_soql,
)

from lsqsf_helpers.http import mount_sandbox
from lsqsf_helpers.sandbox import Sandbox, scenarios
from lsqsf_helpers.sandbox.faults import FaultRule
from lsqsf_helpers.sandbox.messages import Request
from lsqsf_helpers.sandbox.salesforce import wire

WSDL = str(Path(simple_salesforce.__file__).parent / "metadata.wsdl")
MD_BINDING = "{http://soap.sforce.com/2006/04/metadata}MetadataBinding"


def summary(sandbox: Sandbox, label: str) -> dict[str, Any]:
    with sandbox.app.lock:
        result: dict[str, Any] = sandbox.app.salesforce.org_summary(label)
        return result


def password_login(sandbox: Sandbox, session: requests.Session, label: str) -> Salesforce:
    s = summary(sandbox, label)
    domain = "test" if s["is_sandbox"] else "login"
    return Salesforce(
        username=s["username"],
        password=s["password"],
        security_token=s["security_token"],
        domain=domain,
        session=session,
    )


class Metadata:
    """The runbook's Metadata API client: zeep, the bundled WSDL, the session simple-salesforce uses."""

    def __init__(self, client: zeep.Client, sf: Salesforce, version: str = "59.0") -> None:
        self.client = client
        self.service = client.create_service(
            MD_BINDING, f"https://{sf.sf_instance}/services/Soap/m/{version}"
        )
        self.session_id = sf.session_id
        self.site = client.get_type("ns0:RemoteSiteSetting")

    def call(self, operation: str, *args: Any) -> Any:
        header = self.client.get_element("ns0:SessionHeader")(sessionId=self.session_id)
        return getattr(self.service, operation)(*args, _soapheaders=[header])


@pytest.fixture(scope="module")
def shared_session(sandbox: Sandbox) -> Iterator[requests.Session]:
    """One session for simple-salesforce and zeep alike (module scope: the WSDL is parsed once)."""
    session = requests.Session()
    mount_sandbox(session, sandbox.url)
    yield session
    session.close()


@pytest.fixture(scope="module")
def md_client(shared_session: requests.Session) -> zeep.Client:
    return zeep.Client(
        WSDL,
        transport=zeep.transports.Transport(session=shared_session),
        settings=zeep.Settings(strict=False, xsd_ignore_sequence_order=True),
    )


# ----- login ----------------------------------------------------------------------------------


def test_password_login_production_and_query(sandbox: Sandbox, sf_session: requests.Session) -> None:
    s = summary(sandbox, "ready")
    sf = password_login(sandbox, sf_session, "ready")
    assert sf.sf_instance == "lsqsf-ready.my.salesforce.com"
    assert sf.session_id.startswith(s["org_id"][:15] + "!")
    result = sf.query(
        format_soql(
            "SELECT Id, Username, UserPreferencesLightningExperiencePreferred, Profile.Name FROM User "
            "WHERE Id = {}",
            s["user_id"],
        )
    )
    assert list(result) == ["totalSize", "done", "records"]
    [user] = result["records"]
    assert user["attributes"] == {"type": "User", "url": f"/services/data/v59.0/sobjects/User/{s['user_id']}"}
    assert user["Username"] == s["username"]
    assert user["UserPreferencesLightningExperiencePreferred"] is False
    assert user["Profile"]["Name"] == "System Administrator"
    assert sf.api_usage["api-usage"].total == 15000
    assert sf.is_sandbox() is False


def test_password_login_sandbox_org_via_test_domain(sandbox: Sandbox, sf_session: requests.Session) -> None:
    sf = password_login(sandbox, sf_session, "sandbox-org")
    assert sf.sf_instance == "lsqsf-sandbox-org--uat.sandbox.my.salesforce.com"
    assert sf.is_sandbox() is True
    s = summary(sandbox, "sandbox-org")
    with pytest.raises(SalesforceAuthenticationFailed) as err:  # a sandbox user on the production login host
        Salesforce(
            username=s["username"],
            password=s["password"],
            security_token=s["security_token"],
            session=sf_session,
        )
    assert err.value.code == "INVALID_LOGIN"


def test_password_login_on_my_domain(sandbox: Sandbox, sf_session: requests.Session) -> None:
    s = summary(sandbox, "ready")
    sf = Salesforce(
        username=s["username"],
        password=s["password"],
        security_token=s["security_token"],
        domain="lsqsf-ready.my",
        session=sf_session,
    )
    assert sf.sf_instance == s["my_domain"]


def test_wrong_password_is_invalid_login(sandbox: Sandbox, sf_session: requests.Session) -> None:
    s = summary(sandbox, "ready")
    with pytest.raises(SalesforceAuthenticationFailed) as err:
        Salesforce(
            username=s["username"], password="wrong", security_token=s["security_token"], session=sf_session
        )
    assert err.value.code == "INVALID_LOGIN"
    assert err.value.auth_message == "Invalid username, password, security token; or user locked out."


def test_login_fault_is_a_soap_fault(sandbox: Sandbox, sf_session: requests.Session) -> None:
    body = (
        '<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body>'
        '<n1:login xmlns:n1="urn:partner.soap.sforce.com"><n1:username>x</n1:username>'
        "<n1:password>y</n1:password></n1:login></env:Body></env:Envelope>"
    )
    response = sf_session.post("https://login.salesforce.com/services/Soap/u/59.0", data=body)
    assert response.status_code == 500
    assert "<faultcode>sf:INVALID_LOGIN</faultcode>" in response.text
    assert '<sf:LoginFault xsi:type="sf:LoginFault">' in response.text
    broken = sf_session.post("https://login.salesforce.com/services/Soap/u/59.0", data=b"<env:Envelope")
    assert broken.status_code == 500 and "<faultcode>soapenv:Client</faultcode>" in broken.text
    old = sf_session.post("https://login.salesforce.com/services/Soap/u/12.0", data=body)
    assert "UNSUPPORTED_API_VERSION" in old.text


def test_session_id_auth(sandbox: Sandbox, sf_session: requests.Session) -> None:
    sf = password_login(sandbox, sf_session, "ready")
    direct = Salesforce(
        instance_url=f"https://{sf.sf_instance}", session_id=sf.session_id, session=sf_session
    )
    assert direct.query("SELECT Id FROM Organization")["totalSize"] == 1


def test_jwt_bearer_login(sandbox: Sandbox, sf_session: requests.Session) -> None:
    s = summary(sandbox, "ready")
    sf = Salesforce(
        username=s["username"],
        consumer_key=s["jwt_consumer_key"],
        privatekey=s["jwt_private_key"],
        instance_url="lsqsf-ready.my",  # token endpoint on the My Domain; aud stays login.salesforce.com
        session=sf_session,
    )
    assert sf.sf_instance == s["my_domain"]
    assert sf.query("SELECT Id FROM User")["totalSize"] == 2
    direct = Salesforce(
        username=s["username"],
        consumer_key=s["jwt_consumer_key"],
        privatekey=s["jwt_private_key"],
        session=sf_session,
    )
    assert direct.sf_instance == s["my_domain"]
    sbx = summary(sandbox, "sandbox-org")
    sf_sbx = Salesforce(
        username=sbx["username"],
        consumer_key=sbx["jwt_consumer_key"],
        privatekey=sbx["jwt_private_key"],
        domain="test",
        session=sf_session,
    )
    assert sf_sbx.sf_instance == sbx["my_domain"]
    with pytest.raises(SalesforceAuthenticationFailed) as err:
        Salesforce(
            username=s["username"],
            consumer_key="3MVG9nope",
            privatekey=s["jwt_private_key"],
            session=sf_session,
        )
    assert err.value.code == "invalid_client_id"
    with pytest.raises(SalesforceAuthenticationFailed) as err:
        Salesforce(  # production user, sandbox audience
            username=s["username"],
            consumer_key=s["jwt_consumer_key"],
            privatekey=s["jwt_private_key"],
            domain="test",
            instance_url="lsqsf-ready.my",
            session=sf_session,
        )
    assert err.value.code == "invalid_grant"


def test_client_credentials_login(sandbox: Sandbox, sf_session: requests.Session) -> None:
    s = summary(sandbox, "ready")
    sf = Salesforce(
        consumer_key=s["consumer_key"],
        consumer_secret=s["consumer_secret"],
        domain="lsqsf-ready.my",
        session=sf_session,
    )
    assert sf.sf_instance == s["my_domain"]
    info = sf.oauth2("userinfo")
    assert info["user_id"] == s["user_id"] and info["organization_id"] == s["org_id"]
    response = sf_session.post(
        "https://login.salesforce.com/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(s["consumer_key"], s["consumer_secret"]),
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "request not supported on this domain",
    }
    with pytest.raises(SalesforceAuthenticationFailed) as err:
        Salesforce(
            consumer_key=s["consumer_key"], consumer_secret="bad", domain="lsqsf-ready.my", session=sf_session
        )
    assert err.value.code == "invalid_client"


def test_oauth_token_response_shape(sandbox: Sandbox, sf_session: requests.Session) -> None:
    s = summary(sandbox, "ready")
    response = sf_session.post(
        f"https://{s['my_domain']}/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": s["consumer_key"],
            "client_secret": s["consumer_secret"],
        },
    )
    token = response.json()
    assert set(token) >= {
        "access_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
        "scope",
    }
    assert token["id"] == f"https://login.salesforce.com/id/{s['org_id']}/{s['user_id']}"
    assert token["token_type"] == "Bearer" and token["issued_at"].isdigit()


def test_userinfo_and_chatter_me(sandbox: Sandbox, sf_session: requests.Session) -> None:
    s = summary(sandbox, "ready")
    sf = password_login(sandbox, sf_session, "ready")
    info = sf.oauth2("userinfo")
    assert info["user_id"] == s["user_id"] and info["preferred_username"] == s["username"]
    assert info["urls"]["rest"] == f"https://{s['my_domain']}/services/data/v{{version}}/"
    me = sf.restful("chatter/users/me")
    assert me["id"] == s["user_id"] and me["username"] == s["username"]
    bad = Salesforce(
        instance_url=f"https://{s['my_domain']}", session_id="00Dbogus!token", session=sf_session
    )
    with pytest.raises(SalesforceRefusedRequest) as err:
        bad.oauth2("userinfo")
    assert err.value.status == 403 and err.value.content == "Bad_OAuth_Token"


# ----- REST -----------------------------------------------------------------------------------


def test_user_update_and_field_errors(fresh_sandbox: Sandbox, sf_session: requests.Session) -> None:
    s = summary(fresh_sandbox, "lightning")
    sf = password_login(fresh_sandbox, sf_session, "lightning")
    soql = format_soql(
        "SELECT UserPreferencesLightningExperiencePreferred FROM User WHERE Id = {}", s["user_id"]
    )
    assert sf.query(soql)["records"][0]["UserPreferencesLightningExperiencePreferred"] is True
    assert sf.User.update(s["user_id"], {"UserPreferencesLightningExperiencePreferred": False}) == 204
    assert sf.query(soql)["records"][0]["UserPreferencesLightningExperiencePreferred"] is False
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.User.update(s["user_id"], {"NoSuchField__c": True})
    assert err.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.User.update(s["user_id"], {"Username": "other@example.com"})
    assert err.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert err.value.content[0]["fields"] == ["Username"]
    response = sf_session.patch(
        f"{sf.base_url}sobjects/User/{s['user_id']}", data=b"{not json", headers=sf.headers
    )
    assert response.status_code == 400 and response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    user = sf.User.get(s["user_id"][:15])
    assert user["Id"] == s["user_id"] and user["attributes"]["type"] == "User"
    with pytest.raises(SalesforceResourceNotFound) as not_found:
        sf.User.get("005000000000000AAA")
    assert not_found.value.content == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]
    with pytest.raises(SalesforceResourceNotFound):
        sf.Gizmo.get(s["user_id"])


def test_organization_permissions_and_limits(sandbox: Sandbox, sf_session: requests.Session) -> None:
    s = summary(sandbox, "not-admin")
    sf = password_login(sandbox, sf_session, "not-admin")
    org = sf.Organization.get(s["org_id"])
    assert org["OrganizationType"] == "Enterprise Edition" and org["IsSandbox"] is False
    assert org["attributes"]["url"].endswith(f"/sobjects/Organization/{s['org_id']}")
    perms = sf.query(
        format_soql(
            "SELECT PermissionSet.PermissionsModifyAllData, PermissionSet.PermissionsCustomizeApplication, "
            "PermissionSet.PermissionsApiEnabled FROM PermissionSetAssignment WHERE AssigneeId = {}",
            s["user_id"],
        )
    )["records"]
    assert perms[0]["PermissionSet"]["PermissionsModifyAllData"] is False
    assert perms[0]["PermissionSet"]["PermissionsApiEnabled"] is True
    limits = sf.limits()
    assert limits["DailyApiRequests"]["Max"] == 15000
    assert sf.api_usage["api-usage"].used == 15000 - limits["DailyApiRequests"]["Remaining"]


def test_versions_and_resources(sandbox: Sandbox, sf_session: requests.Session) -> None:
    sf = password_login(sandbox, sf_session, "ready")
    listing = sf_session.get(f"https://{sf.sf_instance}/services/data/").json()
    assert {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"} in listing
    resources = sf.restful("")
    assert resources["tooling"] == "/services/data/v59.0/tooling"
    with pytest.raises(SalesforceResourceNotFound):
        Salesforce(
            instance_url=f"https://{sf.sf_instance}",
            session_id=sf.session_id,
            version="99.0",
            session=sf_session,
        ).query("SELECT Id FROM User")


def test_malformed_and_invalid_queries(sandbox: Sandbox, sf_session: requests.Session) -> None:
    sf = password_login(sandbox, sf_session, "ready")
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.query("SELECT Id FROM User WHERE Id = 'a' OR Id = 'b'")
    assert err.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    assert "ERROR at Row:1:Column:" in err.value.content[0]["message"]
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.query("SELECT Id FROM RemoteProxy")  # a Tooling object, not a REST one
    assert err.value.content[0]["errorCode"] == "INVALID_TYPE"
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.query("SELECT Nope FROM User")
    assert err.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.restful("query", params={"q": ""})
    assert err.value.content[0]["errorCode"] == "MALFORMED_QUERY"


def test_method_not_allowed_and_unknown_paths(sandbox: Sandbox, sf_session: requests.Session) -> None:
    sf = password_login(sandbox, sf_session, "ready")
    response = sf_session.delete(f"{sf.base_url}query/", headers=sf.headers)
    assert response.status_code == 405
    assert response.json()[0]["errorCode"] == "METHOD_NOT_ALLOWED" and response.headers["Allow"] == "GET"
    response = sf_session.get(f"{sf.base_url}no/such/thing", headers=sf.headers)
    assert response.status_code == 404 and response.json()[0]["errorCode"] == "NOT_FOUND"
    response = sf_session.get(
        "https://lsqsf-nobody.my.salesforce.com/services/data/v59.0/query/",
        params={"q": "SELECT Id FROM User"},
    )
    assert response.status_code == 404 and response.json()[0]["errorCode"] == "NOT_FOUND"


# ----- sessions, API access and limits --------------------------------------------------------


def test_expired_session_password_auth_logs_in_again(
    fresh_sandbox: Sandbox, sf_session: requests.Session
) -> None:
    sf = password_login(fresh_sandbox, sf_session, "ready")
    before = sf.session_id
    with fresh_sandbox.app.lock:
        fresh_sandbox.app.salesforce.expire_sessions("ready")
    assert sf.query("SELECT Id FROM Organization")["totalSize"] == 1
    assert sf.session_id != before


def test_expired_session_id_auth_raises(fresh_sandbox: Sandbox, sf_session: requests.Session) -> None:
    sf = password_login(fresh_sandbox, sf_session, "ready")
    direct = Salesforce(
        instance_url=f"https://{sf.sf_instance}", session_id=sf.session_id, session=sf_session
    )
    with fresh_sandbox.app.lock:
        fresh_sandbox.app.salesforce.expire_sessions("ready")
    with pytest.raises(SalesforceExpiredSession) as err:
        direct.query("SELECT Id FROM Organization")
    assert err.value.content == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def test_api_disabled_and_request_limit_are_distinguishable(
    sandbox: Sandbox, sf_session: requests.Session
) -> None:
    codes = {}
    for label in ("no-api-access", "rate-limited"):
        sf = password_login(sandbox, sf_session, label)  # login itself works in both
        with pytest.raises(SalesforceRefusedRequest) as err:
            sf.restful("tooling/query/", params={"q": "SELECT Id FROM InstalledSubscriberPackage"})
        codes[label] = err.value.content[0]["errorCode"]
        with pytest.raises(SalesforceRefusedRequest):
            sf.query("SELECT Id FROM User")
    assert codes == {"no-api-access": "API_DISABLED_FOR_ORG", "rate-limited": "REQUEST_LIMIT_EXCEEDED"}


def test_metadata_faults_for_disabled_and_exhausted_orgs(
    sandbox: Sandbox, shared_session: requests.Session, md_client: zeep.Client
) -> None:
    for label, code in (
        ("no-api-access", "sf:API_DISABLED_FOR_ORG"),
        ("rate-limited", "sf:REQUEST_LIMIT_EXCEEDED"),
    ):
        md = Metadata(md_client, password_login(sandbox, shared_session, label))
        with pytest.raises(zeep.exceptions.Fault) as err:
            md.call("readMetadata", "RemoteSiteSetting", ["LSQConnectorURL"])
        assert err.value.code == code


# ----- Tooling --------------------------------------------------------------------------------


def test_tooling_installed_package_query_shape(sandbox: Sandbox, sf_session: requests.Session) -> None:
    sf = password_login(sandbox, sf_session, "ready")
    result = sf.restful(
        "tooling/query/",
        params={
            "q": "SELECT SubscriberPackage.Id, SubscriberPackage.NamespacePrefix, SubscriberPackageVersionId "
            "FROM InstalledSubscriberPackage"
        },
    )
    assert list(result) == ["size", "totalSize", "done", "queryLocator", "entityTypeName", "records"]
    assert (result["size"], result["entityTypeName"], result["queryLocator"]) == (
        1,
        "InstalledSubscriberPackage",
        None,
    )
    [record] = result["records"]
    assert record["attributes"]["url"].startswith(
        "/services/data/v59.0/tooling/sobjects/InstalledSubscriberPackage/0A3"
    )
    assert record["SubscriberPackage"]["NamespacePrefix"] == scenarios.FAKE_NAMESPACE
    assert record["SubscriberPackage"]["attributes"]["type"] == "SubscriberPackage"
    assert record["SubscriberPackageVersionId"][:15] == scenarios.FAKE_PACKAGE_VERSION_ID
    version = sf.toolingexecute(
        "query/?q="
        + format_soql(
            "SELECT Id, MajorVersion, MinorVersion, PatchVersion, BuildNumber, IsBeta "
            "FROM SubscriberPackageVersion "
            "WHERE Id = {}",
            record["SubscriberPackageVersionId"],
        )
    )["records"][0]
    assert (version["MajorVersion"], version["MinorVersion"], version["IsBeta"]) == (4, 2, False)
    empty = sf.restful("tooling/query/", params={"q": "SELECT Id FROM PackageInstallRequest"})
    assert (empty["size"], empty["records"], empty["entityTypeName"]) == (0, [], None)


def test_tooling_remote_proxy_full_name_needs_one_row(sandbox: Sandbox, sf_session: requests.Session) -> None:
    sf = password_login(sandbox, sf_session, "ready")
    rows = sf.restful(
        "tooling/query/", params={"q": "SELECT SiteName, EndpointUrl, IsActive FROM RemoteProxy"}
    )
    assert {r["SiteName"] for r in rows["records"]} == {"LSQConnectorURL", "LSQ_API"}
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.restful("tooling/query/", params={"q": "SELECT FullName FROM RemoteProxy"})
    assert err.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    one = sf.restful(
        "tooling/query/",
        params={"q": "SELECT FullName, Metadata FROM RemoteProxy WHERE SiteName = 'LSQConnectorURL'"},
    )
    assert one["records"][0]["FullName"] == "LSQConnectorURL"
    assert one["records"][0]["Metadata"]["isActive"] is True


def test_package_install_request_flow(fresh_sandbox: Sandbox, sf_session: requests.Session) -> None:
    sf = password_login(fresh_sandbox, sf_session, "fresh")
    created = sf.restful(
        "tooling/sobjects/PackageInstallRequest/",
        method="POST",
        json={
            "SubscriberPackageVersionKey": scenarios.FAKE_PACKAGE_VERSION_ID,
            "SecurityType": "Full",
            "EnableRss": True,
            "NameConflictResolution": "Block",
        },
    )
    assert created["success"] is True and created["errors"] == [] and created["id"].startswith("0Hf")
    request_id = created["id"]
    poll = format_soql(
        "SELECT Id, Status, Errors, SecurityType, EnableRss FROM PackageInstallRequest WHERE Id = {}",
        request_id,
    )
    seen = [sf.restful("tooling/query/", params={"q": poll})["records"][0] for _ in range(3)]
    assert [r["Status"] for r in seen] == ["IN_PROGRESS", "IN_PROGRESS", "SUCCESS"]
    assert (seen[-1]["SecurityType"], seen[-1]["EnableRss"], seen[-1]["Errors"]) == ("Full", True, None)
    record = sf.restful(f"tooling/sobjects/PackageInstallRequest/{request_id}")
    assert record["Status"] == "SUCCESS" and record["attributes"]["type"] == "PackageInstallRequest"
    installed = sf.restful(
        "tooling/query/", params={"q": "SELECT SubscriberPackageVersionId FROM InstalledSubscriberPackage"}
    )
    assert installed["size"] == 1
    with fresh_sandbox.app.lock:
        request = fresh_sandbox.app.salesforce.orgs["fresh"].install_requests[request_id]
        assert (request.security_type, request.enable_rss) == ("Full", True)


def test_package_install_error_outcome(fresh_sandbox: Sandbox, sf_session: requests.Session) -> None:
    spec = dataclasses.replace(scenarios.get("fresh"), name="install-fails", install_outcome="ERROR")
    with fresh_sandbox.app.lock:
        fresh_sandbox.app.salesforce.add_org("install-fails", spec)  # model-only org; gone at the next reset
    s = summary(fresh_sandbox, "install-fails")
    sf = Salesforce(
        username=s["username"], password=s["password"], security_token=s["security_token"], session=sf_session
    )
    request_id = sf.restful(
        "tooling/sobjects/PackageInstallRequest/",
        method="POST",
        json={"SubscriberPackageVersionKey": scenarios.FAKE_PACKAGE_VERSION_ID, "SecurityType": "Full"},
    )["id"]
    for _ in range(3):
        record = sf.restful(f"tooling/sobjects/PackageInstallRequest/{request_id}")
    assert record["Status"] == "ERROR"
    assert record["Errors"]["errors"][0]["message"]


def test_package_install_request_validation(sandbox: Sandbox, sf_session: requests.Session) -> None:
    sf = password_login(sandbox, sf_session, "fresh")
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.restful("tooling/sobjects/PackageInstallRequest/", method="POST", json={"SecurityType": "Full"})
    assert err.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.restful(
            "tooling/sobjects/PackageInstallRequest/",
            method="POST",
            json={"SubscriberPackageVersionKey": "04t000000000001AAA"},
        )
    assert err.value.content[0]["errorCode"] in ("INVALID_CROSS_REFERENCE_KEY", "MALFORMED_ID")
    response = sf_session.post(
        f"{sf.base_url}tooling/sobjects/PackageInstallRequest/", data=b"[1,", headers=sf.headers
    )
    assert response.status_code == 400 and response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.restful("tooling/sobjects/RemoteProxy/", method="POST", json={"SiteName": "X"})
    assert err.value.content[0]["errorCode"] == "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY"


# ----- Metadata API (zeep on the same session) ------------------------------------------------


def test_metadata_read_create_upsert_and_remote_proxy(
    fresh_sandbox: Sandbox, shared_session: requests.Session, md_client: zeep.Client
) -> None:
    sf_session = shared_session
    s = summary(fresh_sandbox, "no-remote-site")
    sf = password_login(fresh_sandbox, sf_session, "no-remote-site")
    md = Metadata(md_client, sf)
    [missing] = md.call("readMetadata", "RemoteSiteSetting", ["LSQConnectorURL"])
    assert missing.fullName is None  # what the real API answers for a name it does not have
    site = md.site(
        fullName="LSQConnectorURL",
        url=s["connector_page_origin"],
        isActive=True,
        disableProtocolSecurity=False,
    )
    [created] = md.call("createMetadata", [site])
    assert (created.success, created.fullName) == (True, "LSQConnectorURL")
    [again] = md.call("createMetadata", [site])
    assert again.success is False and again.errors[0].statusCode == "DUPLICATE_DEVELOPER_NAME"
    site.isActive = False
    site.description = "LeadSquared"
    [upserted] = md.call("upsertMetadata", [site])
    assert (upserted.success, upserted.created) == (True, False)
    [read] = md.call("readMetadata", "RemoteSiteSetting", ["LSQConnectorURL"])
    assert (read.fullName, read.url, read.isActive, read.description) == (
        "LSQConnectorURL",
        s["connector_page_origin"],
        False,
        "LeadSquared",
    )
    proxy = sf.restful(
        "tooling/query/",
        params={
            "q": "SELECT SiteName, EndpointUrl, IsActive FROM RemoteProxy WHERE SiteName = 'LSQConnectorURL'"
        },
    )["records"]
    assert [(r["EndpointUrl"], r["IsActive"]) for r in proxy] == [(s["connector_page_origin"], False)]
    [bad] = md.call(
        "upsertMetadata",
        [
            md.site(
                fullName="Bad__Name",
                url="https://x.example.com",
                isActive=True,
                disableProtocolSecurity=False,
            )
        ],
    )
    assert bad.success is False and bad.errors[0].statusCode == "FIELD_INTEGRITY_EXCEPTION"
    with pytest.raises(zeep.exceptions.Fault) as err:
        md.call("readMetadata", "RemoteSiteSetting", [f"S{i}" for i in range(11)])
    assert err.value.code == "sf:LIMIT_EXCEEDED"


def test_metadata_upsert_fixes_a_wrong_remote_site(
    fresh_sandbox: Sandbox, shared_session: requests.Session, md_client: zeep.Client
) -> None:
    sf_session = shared_session
    s = summary(fresh_sandbox, "wrong-remote-site")
    sf = password_login(fresh_sandbox, sf_session, "wrong-remote-site")
    md = Metadata(md_client, sf)
    [before] = md.call("readMetadata", "RemoteSiteSetting", ["LSQConnectorURL"])
    assert before.url == scenarios.WRONG_REMOTE_SITE_URL
    [result] = md.call(
        "upsertMetadata",
        [
            md.site(
                fullName="LSQConnectorURL",
                url=s["connector_page_origin"],
                isActive=True,
                disableProtocolSecurity=False,
            )
        ],
    )
    assert (result.success, result.created) == (True, False)
    [after] = md.call("readMetadata", "RemoteSiteSetting", ["LSQConnectorURL"])
    assert after.url == s["connector_page_origin"]


def test_metadata_session_and_permission_faults(
    fresh_sandbox: Sandbox, shared_session: requests.Session, md_client: zeep.Client
) -> None:
    sf_session = shared_session
    sf = password_login(fresh_sandbox, sf_session, "ready")
    md = Metadata(md_client, sf)
    with fresh_sandbox.app.lock:
        fresh_sandbox.app.salesforce.expire_sessions("ready")
    with pytest.raises(zeep.exceptions.Fault) as err:
        md.call("readMetadata", "RemoteSiteSetting", ["LSQConnectorURL"])
    assert err.value.code == "sf:INVALID_SESSION_ID"
    with pytest.raises(zeep.exceptions.Fault) as err:
        md.service.readMetadata("RemoteSiteSetting", ["LSQConnectorURL"])  # no SessionHeader at all
    assert err.value.code == "sf:INVALID_SESSION_ID"
    standard = Metadata(md_client, password_login(fresh_sandbox, sf_session, "not-admin"))
    with pytest.raises(zeep.exceptions.Fault) as err:
        standard.call("readMetadata", "RemoteSiteSetting", ["LSQConnectorURL"])
    assert err.value.code == "sf:INSUFFICIENT_ACCESS"


def test_metadata_broken_xml_is_a_client_fault(sandbox: Sandbox, sf_session: requests.Session) -> None:
    sf = password_login(sandbox, sf_session, "ready")
    url = f"https://{sf.sf_instance}/services/Soap/m/59.0"
    for body in (
        b"<soapenv:Envelope><unclosed>",
        b"not xml at all",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>',
    ):
        response = sf_session.post(url, data=body, headers={"Content-Type": "text/xml", "SOAPAction": '""'})
        assert response.status_code == 500
        assert "<faultcode>soapenv:Client</faultcode>" in response.text
        assert "Traceback" not in response.text
    unknown = (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
        '<listMetadata xmlns="http://soap.sforce.com/2006/04/metadata"/></soapenv:Body></soapenv:Envelope>'
    )
    response = sf_session.post(url, data=unknown)
    assert response.status_code == 500 and "No operation available" in response.text


# ----- transport edges ------------------------------------------------------------------------


def test_oversized_body_is_413_and_unknown_host_421(sandbox: Sandbox, sf_session: requests.Session) -> None:
    sf = password_login(sandbox, sf_session, "ready")
    response = sf_session.post(
        f"{sf.base_url}tooling/sobjects/PackageInstallRequest/",
        data=b"x" * (1024 * 1024 + 1),
        headers=sf.headers,
    )
    assert response.status_code == 413
    assert response.json()[0]["errorCode"] == "REQUEST_ENTITY_TOO_LARGE"
    misdirected = requests.get(f"{sandbox.url}/services/data/", headers={"Host": "example.org"}, timeout=5)
    assert misdirected.status_code == 421
    assert sf.query("SELECT Id FROM Organization")["totalSize"] == 1  # the server keeps serving


def test_vendor_shaped_faults_and_internal_error() -> None:
    for kind in ("429", "503"):
        response = wire.fault_response(kind)
        assert response.status == int(kind) and response.headers["Retry-After"] == "1"

    assert json.loads(wire.fault_response("503").body)[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert json.loads(wire.fault_response("500").body)[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    assert wire.fault_response("502").status == 502 and wire.fault_response("504").status == 504
    internal = wire.internal_error()
    body = json.loads(internal.body)
    assert (
        internal.status == 500
        and body[0]["errorCode"] == "UNKNOWN_EXCEPTION"
        and "Traceback" not in body[0]["message"]
    )
    assert wire.too_large().status == 413
    # given the request, SOAP endpoints get SOAP faults (zeep cannot read a JSON body)
    metadata = Request.build("POST", "lsqsf-ready.my.salesforce.com", "/services/Soap/m/59.0")
    login = Request.build("POST", "login.salesforce.com", "/services/Soap/u/59.0")
    rest = Request.build("GET", "lsqsf-ready.my.salesforce.com", "/services/data/v59.0/query/")
    soap_503 = wire.fault_response("503", metadata)
    assert soap_503.status == 503 and soap_503.headers["Retry-After"] == "1"
    assert b"<faultcode>sf:SERVER_UNAVAILABLE</faultcode>" in soap_503.body
    assert b"<sf:exceptionCode>UNKNOWN_EXCEPTION</sf:exceptionCode>" in wire.internal_error(login).body
    assert wire.too_large(metadata).content_type.startswith("text/xml")
    assert json.loads(wire.fault_response("429", rest).body)[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_injected_faults_reach_the_client(fresh_sandbox: Sandbox, sf_session: requests.Session) -> None:
    sf = password_login(fresh_sandbox, sf_session, "ready")
    try:
        fresh_sandbox.app.faults.configure(FaultRule(rate=1.0, kinds=("503",), vendors=("salesforce",)))
        with pytest.raises(SalesforceGeneralError) as err:
            sf.query("SELECT Id FROM Organization")
        assert err.value.status == 503 and err.value.content[0]["errorCode"] == "SERVER_UNAVAILABLE"
        fresh_sandbox.app.faults.configure(FaultRule(rate=1.0, kinds=("429",), vendors=("salesforce",)))
        with pytest.raises(SalesforceGeneralError) as err:
            sf.restful("tooling/query/", params={"q": "SELECT Id FROM RemoteProxy"})
        assert err.value.status == 429
    finally:
        fresh_sandbox.app.faults.reset()


def test_call_log_labels(sandbox: Sandbox, sf_session: requests.Session) -> None:
    sf = password_login(sandbox, sf_session, "ready")
    sf.query("SELECT Id FROM Organization")
    sf.restful("tooling/query/", params={"q": "SELECT Id FROM RemoteProxy"})
    by_org = sandbox.app.calls.summary()["by_org"]
    assert by_org["ready"]["sf.rest"] >= 1 and by_org["ready"]["sf.tooling"] >= 1
    assert by_org["-"]["sf.login"] >= 1
