"""Salesforce, through simple-salesforce on lsqsf's one requests.Session.

Every call the runbook makes to an org lives here: login in four modes, the running user and its
permission flags, edition, installed packages, package installs, the Lightning preference, and
remote sites (read through Tooling RemoteProxy, written through the Metadata API with zeep on the
same session). Vendor errors become `SalesforceFailure` with Salesforce's errorCode and a remedy.
SOQL is built only with simple-salesforce's `format_soql`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import jwt
import requests
import simple_salesforce
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError
from simple_salesforce.format import format_soql

from lsqsf_helpers.errors import Failure, SalesforceFailure
from lsqsf_helpers.http import idempotent_posts

log = logging.getLogger(__name__)

API_VERSION = "59.0"
METADATA_WSDL = Path(simple_salesforce.__file__).with_name("metadata.wsdl")
ADMIN_PERMISSIONS = (
    "PermissionsModifyAllData",
    "PermissionsCustomizeApplication",
    "PermissionsInstallPackaging",
)
ALL_PERMISSIONS = (*ADMIN_PERMISSIONS, "PermissionsApiEnabled", "PermissionsViewSetup")
# Install errors worth another try (CumulusCI's list, cumulusci/salesforce_api/package_install.py).
TRANSIENT_INSTALL_ERRORS = (
    "This package is not yet available",
    "InstalledPackage version number",
    "unable to obtain exclusive access to this record",
    "Package installation is already in progress",
)

REMEDIES = {
    "INVALID_LOGIN": "check salesforce.username, password and security_token (Settings > Reset My Security Token "
    "sends a new token); make sure the login host matches the org (production, sandbox or My Domain)",
    "API_DISABLED_FOR_ORG": "this org has no API access (Professional Edition without the API add-on): do the "
    "Salesforce steps by hand from the links shown, or ask Salesforce for API access",
    "REQUEST_LIMIT_EXCEEDED": "the org's API request allowance is used up; wait for it to recover (a rolling "
    "24 hours) or ask Salesforce to raise it (Setup > Company Information shows API Requests)",
    "INVALID_SESSION_ID": "the session or access token expired: get a new access token, or use an auth mode "
    "that can log in again (password, jwt, client_credentials)",
    "INSUFFICIENT_ACCESS": "the running user lacks a permission this check needs: run as a System Administrator",
    "invalid_grant": "check the connected app: consumer key, the user's pre-authorisation, and the certificate "
    "that matches salesforce.private_key",
    "invalid_client_id": "check salesforce.consumer_key against the connected app",
    "invalid_client": "check salesforce.consumer_key and consumer_secret against the connected app",
    "SERVER_UNAVAILABLE": "Salesforce is temporarily unavailable and lsqsf's retries ran out: run again in a few "
    "minutes; if it persists, check https://status.salesforce.com",
    "UNKNOWN_EXCEPTION": "Salesforce had an internal error: run again; if it persists, check "
    "https://status.salesforce.com and give Salesforce support the ErrorId from the message",
    "INVALID_PRIVATE_KEY": "salesforce.private_key must point at the PEM private key (-----BEGIN PRIVATE KEY-----) "
    "whose certificate is uploaded to the connected app",
}
TOO_FAST = (
    "Salesforce asked lsqsf to slow down (too many requests at once or in a short time) and kept asking after "
    "lsqsf's retries: run again in a few minutes, with fewer batch workers (--workers) if many orgs share this "
    "Salesforce instance"
)
DAILY_ALLOWANCE = "TotalRequests"  # REQUEST_LIMIT_EXCEEDED's wording for the rolling 24-hour allowance


def remedy_for(code: str, message: str, *, status: int = 0, default: str = "") -> str:
    """What to do about a Salesforce error code.

    REQUEST_LIMIT_EXCEEDED means two things. "TotalRequests Limit exceeded." is the org's rolling
    24-hour allowance; any other wording (ConcurrentPerOrgLongTxn, or a burst answered with HTTP 429)
    asks lsqsf to slow down, which waiting minutes, not a day, cures.
    """
    # Sources for the two wordings: ../shared/reference/salesforce-api.md (section 6, with
    # mike4aday/SwiftlySalesforce#29 and singer-io/tap-salesforce#221), and SalesforceLabs/OrgCheck#181,
    # an org out of its daily allowance answering "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded."
    if status == 429 or (code == "REQUEST_LIMIT_EXCEEDED" and DAILY_ALLOWANCE not in message):
        return TOO_FAST
    return REMEDIES.get(code, default)


# For an error without a code of its own: a gateway's error page, a dropped answer, an unexpected SOAP fault.
RETRY_LATER = (
    "Salesforce (or a proxy in between) failed and lsqsf's retries ran out: run again in a few minutes; "
    "if it persists, check https://status.salesforce.com, or do this step by hand in Setup"
)


@dataclass(frozen=True)
class SalesforceLogin:
    """Everything needed to open a session; secret values stay out of repr."""

    auth: str  # password | access_token | jwt | client_credentials
    domain: str  # simple-salesforce's domain: login, test, acme.my, acme--uat.sandbox.my
    username: str = ""
    consumer_key: str = ""
    instance_url: str = ""
    api_version: str = API_VERSION
    password: str = field(default="", repr=False)
    security_token: str = field(default="", repr=False)
    access_token: str = field(default="", repr=False)
    consumer_secret: str = field(default="", repr=False)
    private_key: str = field(default="", repr=False)


@dataclass(frozen=True)
class RunningUser:
    id: str
    username: str
    lightning_preferred: bool
    permissions: dict[str, bool]

    @property
    def is_admin(self) -> bool:
        return all(self.permissions.get(p, False) for p in ADMIN_PERMISSIONS)

    @property
    def missing_admin_permissions(self) -> list[str]:
        return [p for p in ADMIN_PERMISSIONS if not self.permissions.get(p, False)]


@dataclass(frozen=True)
class OrgInfo:
    id: str
    edition: str
    is_sandbox: bool
    instance_name: str


@dataclass(frozen=True)
class InstalledPackage:
    namespace: str | None
    name: str
    version_id: str
    version: str


@dataclass(frozen=True)
class RemoteSite:
    name: str
    url: str
    is_active: bool
    description: str = ""


@dataclass(frozen=True)
class InstallOutcome:
    request_id: str
    status: str  # SUCCESS | ERROR | IN_PROGRESS (gave up polling)
    errors: tuple[str, ...] = ()
    polls: int = 0


def failure_from(exc: Exception, doing: str) -> Failure:
    """Turn a simple-salesforce, zeep or requests error into our hierarchy, keeping Salesforce's code."""
    if isinstance(exc, SalesforceAuthenticationFailed):
        code = str(getattr(exc, "code", "") or "")
        message = str(getattr(exc, "auth_message", "") or getattr(exc, "message", "") or exc)
        if not code or code.isdigit():
            # No Salesforce error code: the answer came from something in between (an HTML error page), not
            # from Salesforce's login service, so the credentials are not to blame.
            return SalesforceFailure(
                f"{doing}: the login service did not answer ({'HTTP ' + code if code else 'no Salesforce error code'})",
                code="LOGIN_UNAVAILABLE",
                status=int(code) if code else 0,
                remedy=RETRY_LATER,
            )
        return SalesforceFailure(
            f"{doing}: login refused ({code}: {message})",
            code=code,
            status=401,
            # a SOAP login fault carries no HTTP status through simple-salesforce: the wording tells
            remedy=remedy_for(code, message, default=REMEDIES["INVALID_LOGIN"]),
        )
    if isinstance(exc, SalesforceError):
        return failure_from_answer(doing, int(exc.status or 0), exc.content)
    if isinstance(exc, requests.RequestException):
        return SalesforceFailure(
            f"{doing}: Salesforce could not be reached ({type(exc).__name__})",
            code="CONNECTION",
            remedy="check the network, proxy (HTTPS_PROXY) and the login host; then run again",
        )
    fault_code = _zeep_fault_code(exc)
    if fault_code is not None:
        fault_message = str(getattr(exc, "message", exc))
        if not fault_message.startswith(fault_code):  # Salesforce's fault strings often start with the code
            fault_message = f"{fault_code} {fault_message}"
        return SalesforceFailure(
            f"{doing}: {fault_message}",
            code=fault_code,
            status=500,
            remedy=remedy_for(fault_code, fault_message, default=RETRY_LATER),
        )
    return SalesforceFailure(f"{doing}: {exc}", remedy=RETRY_LATER)


def failure_from_answer(doing: str, status: int, content: Any) -> SalesforceFailure:
    """A REST error answer (a list of {errorCode, message}), whole or one composite subrequest's."""
    code, message = "", str(content)
    if isinstance(content, list) and content and isinstance(content[0], dict):
        code = str(content[0].get("errorCode", ""))
        message = str(content[0].get("message", ""))
    return SalesforceFailure(
        f"{doing}: {code or status} {message}".strip(),
        code=code,
        status=status,
        # a 429 is a burst limit (lsqsf's retries waited as told and ran out), not the daily allowance
        remedy=remedy_for(code, message, status=status, default=RETRY_LATER if status >= 500 else ""),
    )


def _zeep_fault_code(exc: Exception) -> str | None:
    from zeep.exceptions import Fault

    if not isinstance(exc, Fault):
        return None
    code = str(exc.code or "")
    return code.split(":", 1)[-1] or "SOAP_FAULT"


USER_SOQL = "SELECT Id, Username, UserPreferencesLightningExperiencePreferred FROM User WHERE "
GRANTS_SOQL = (
    "SELECT PermissionSet.PermissionsModifyAllData, PermissionSet.PermissionsCustomizeApplication, "
    "PermissionSet.PermissionsInstallPackaging, PermissionSet.PermissionsApiEnabled, "
    "PermissionSet.PermissionsViewSetup FROM PermissionSetAssignment WHERE AssigneeId = {}"
)
ORG_SOQL = "SELECT Id, OrganizationType, IsSandbox, InstanceName FROM Organization"
PACKAGES_SOQL = (
    "SELECT Id, SubscriberPackage.NamespacePrefix, SubscriberPackage.Name, SubscriberPackageVersionId, "
    "SubscriberPackageVersion.MajorVersion, SubscriberPackageVersion.MinorVersion, "
    "SubscriberPackageVersion.PatchVersion, SubscriberPackageVersion.BuildNumber "
    "FROM InstalledSubscriberPackage"
)
SITE_SOQL = "SELECT Id, SiteName, EndpointUrl, IsActive, Description FROM RemoteProxy WHERE SiteName = {}"
# Left as they are in a composite subrequest's url: composite references (@{ref.records[0].Id}) and
# SOQL punctuation; everything else (spaces, '+', '&', '%') is percent-encoded.
SOQL_SAFE = "@{}[]'=,()*"

T = TypeVar("T")
Records = list[dict[str, Any]] | SalesforceFailure


def value_of(part: T | Failure) -> T:
    """A read's value, or its failure raised (each step meets the failure of the read it needs)."""
    if isinstance(part, Failure):
        raise part
    return part


@dataclass(frozen=True)
class OrgReads:
    """What a check reads through REST, each part a value or the failure of that query alone."""

    user: RunningUser | SalesforceFailure
    organization: OrgInfo | SalesforceFailure


@dataclass(frozen=True)
class SetupReads:
    """What a check reads through Tooling, each part a value or the failure of that query alone."""

    packages: list[InstalledPackage] | SalesforceFailure
    remote_site: RemoteSite | SalesforceFailure | None


def _query_doing(soql: str, tooling: bool) -> str:
    return f"{'Tooling ' if tooling else ''}query {soql.split(' FROM ')[-1].split()[0]}"


def _running_user(users: Records, grants: Records) -> RunningUser | SalesforceFailure:
    if isinstance(users, SalesforceFailure):
        return users
    if not users:
        return SalesforceFailure("the running user was not found", code="NOT_FOUND")
    if isinstance(grants, SalesforceFailure):
        return grants
    permissions = {
        p: any(bool((a.get("PermissionSet") or {}).get(p)) for a in grants) for p in ALL_PERMISSIONS
    }
    user = users[0]
    return RunningUser(
        id=str(user["Id"]),
        username=str(user.get("Username", "")),
        lightning_preferred=bool(user.get("UserPreferencesLightningExperiencePreferred")),
        permissions=permissions,
    )


def _org_info(rows: Records) -> OrgInfo | SalesforceFailure:
    if isinstance(rows, SalesforceFailure):
        return rows
    if not rows:
        return SalesforceFailure("the Organization record was not found", code="NOT_FOUND")
    row = rows[0]
    return OrgInfo(
        id=str(row["Id"]),
        edition=str(row.get("OrganizationType", "")),
        is_sandbox=bool(row.get("IsSandbox")),
        instance_name=str(row.get("InstanceName", "")),
    )


def _packages(rows: Records) -> list[InstalledPackage] | SalesforceFailure:
    if isinstance(rows, SalesforceFailure):
        return rows
    packages = []
    for row in rows:
        pkg = row.get("SubscriberPackage") or {}
        ver = row.get("SubscriberPackageVersion") or {}
        version = ".".join(
            str(ver.get(k, 0)) for k in ("MajorVersion", "MinorVersion", "PatchVersion", "BuildNumber")
        )
        packages.append(
            InstalledPackage(
                namespace=pkg.get("NamespacePrefix"),
                name=str(pkg.get("Name", "")),
                version_id=str(row.get("SubscriberPackageVersionId", "")),
                version=version,
            )
        )
    return packages


def _remote_site(rows: Records) -> RemoteSite | SalesforceFailure | None:
    if isinstance(rows, SalesforceFailure):
        return rows
    if not rows:
        return None
    row = rows[0]
    return RemoteSite(
        name=str(row.get("SiteName", "")),
        url=str(row.get("EndpointUrl", "")),
        is_active=bool(row.get("IsActive")),
        description=str(row.get("Description") or ""),
    )


class _Salesforce(Salesforce):
    """simple-salesforce's client whose automatic login again, after an answer of INVALID_SESSION_ID, is
    retried on 429/5xx answers and dropped connections like the first login (a login changes nothing).
    Without this, that one POST went unretried: a single 503 on it failed the step in hand."""

    def _refresh_session(self) -> None:
        with idempotent_posts():
            super()._refresh_session()


class SalesforceClient:
    """One logged-in org. Create with `SalesforceClient.connect(login, session)`."""

    def __init__(self, sf: Salesforce, login: SalesforceLogin, session: requests.Session) -> None:
        self.sf = sf
        self.login = login
        self.session = session

    @classmethod
    def connect(cls, login: SalesforceLogin, session: requests.Session) -> SalesforceClient:
        try:
            # A login changes nothing, so its POST is retried like a GET on 429/5xx answers and read errors.
            with idempotent_posts():
                sf = cls._log_in(login, {"session": session, "version": login.api_version})
        except (SalesforceError, requests.RequestException) as exc:
            raise failure_from(exc, "Salesforce login") from None
        return cls(sf, login, session)

    @staticmethod
    def _log_in(login: SalesforceLogin, common: dict[str, Any]) -> Salesforce:
        if login.auth == "password":
            return _Salesforce(
                username=login.username,
                password=login.password,
                security_token=login.security_token,
                domain=login.domain,
                **common,
            )
        if login.auth == "access_token":
            return _Salesforce(instance_url=login.instance_url, session_id=login.access_token, **common)
        if login.auth == "jwt":
            audience, token_host = jwt_domains(login.domain)
            try:
                return _Salesforce(
                    username=login.username,
                    consumer_key=login.consumer_key,
                    privatekey=login.private_key,
                    domain=audience,
                    instance_url=token_host,
                    **common,
                )
            except (jwt.PyJWTError, ValueError, TypeError):
                # PyJWT could not sign the assertion with that key; its message never holds the key.
                raise SalesforceFailure(
                    "Salesforce login: salesforce.private_key is not a usable RSA private key",
                    code="INVALID_PRIVATE_KEY",
                    remedy=REMEDIES["INVALID_PRIVATE_KEY"],
                ) from None
        if login.auth == "client_credentials":
            return _Salesforce(
                consumer_key=login.consumer_key,
                consumer_secret=login.consumer_secret,
                domain=login.domain,
                **common,
            )
        raise SalesforceFailure(f"unknown auth mode {login.auth!r}")

    @property
    def instance_host(self) -> str:
        return str(self.sf.sf_instance).split(":")[0]

    # ----- calls --------------------------------------------------------------------------------
    def _call(self, doing: str, fn: Callable[[], Any]) -> Any:
        """Run one simple-salesforce call (untyped JSON back), turning its errors into ours."""
        try:
            return fn()
        except (SalesforceError, requests.RequestException) as exc:
            raise failure_from(exc, doing) from None

    def query(self, soql: str, *, tooling: bool = False) -> list[dict[str, Any]]:
        """Records of a (small) query; REST or Tooling. Follows nextRecordsUrl pages."""
        path = "tooling/query/" if tooling else "query/"
        doing = _query_doing(soql, tooling)
        result = self._call(doing, lambda: self.sf.restful(path, params={"q": soql}))
        return self._all_records(doing, result)

    def _all_records(self, doing: str, result: Any) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = list((result or {}).get("records", []))
        while result and not result.get("done", True) and result.get("nextRecordsUrl"):
            next_url = str(result["nextRecordsUrl"])
            result = self._call(doing, partial(self.sf.query_more, next_url, identifier_is_url=True))
            records.extend(result.get("records", []))
        return records

    def queries(self, soql: Mapping[str, str], *, tooling: bool = False) -> dict[str, Records]:
        """Up to five queries in one composite call (one round trip, one API request).

        Each answer is its records or, when that query alone failed, its SalesforceFailure; a query may
        use an earlier one's answer as `@{name.records[0].Id}`. A failure of the whole call is raised.
        """
        base = f"/services/data/v{self.login.api_version}/{'tooling/' if tooling else ''}query/?q="
        body = {
            "allOrNone": False,
            "compositeRequest": [
                {"method": "GET", "url": base + quote(text, safe=SOQL_SAFE), "referenceId": name}
                for name, text in soql.items()
            ],
        }
        path = "tooling/composite" if tooling else "composite"
        doing = "read the org" + (" (Tooling)" if tooling else "")
        with idempotent_posts():  # GET subrequests only: repeating the call changes nothing
            answer = self._call(doing, lambda: self.sf.restful(path, method="POST", json=body))
        parts = {str(r.get("referenceId")): r for r in (answer or {}).get("compositeResponse", [])}
        out: dict[str, Records] = {}
        for name, text in soql.items():
            part = parts.get(name)
            doing = _query_doing(text, tooling)
            if part is None:
                out[name] = SalesforceFailure(
                    f"{doing}: no answer in the composite response", remedy=RETRY_LATER
                )
            elif 200 <= int(part.get("httpStatusCode", 0)) < 300:
                out[name] = self._all_records(doing, part.get("body"))
            else:
                out[name] = failure_from_answer(doing, int(part.get("httpStatusCode", 0)), part.get("body"))
        return out

    # ----- what a check reads -------------------------------------------------------------------
    @cached_property
    def user_id(self) -> str:
        """The running user's id: OAuth userinfo, else Chatter's users/me (simple-salesforce keeps neither)."""
        try:
            info = self.sf.oauth2("userinfo")
            if isinstance(info, dict) and info.get("user_id"):
                return str(info["user_id"])
        except (SalesforceError, requests.RequestException) as exc:
            log.info("userinfo unavailable (%s); trying chatter/users/me", type(exc).__name__)
        me = self._call("read the running user", lambda: self.sf.restful("chatter/users/me"))
        return str(me["id"])

    def _user_filter(self) -> str:
        """SOQL that finds the running user: by the username that logged in, else by id (asked once)."""
        if self.login.auth in ("password", "jwt") and self.login.username:
            return format_soql(USER_SOQL + "Username = {}", self.login.username)
        return format_soql(USER_SOQL + "Id = {}", self.user_id)

    def org_reads(self) -> OrgReads:
        """The running user, its permissions and the org's edition: one composite call."""
        found = self.queries(
            {
                "user": self._user_filter(),
                "grants": format_soql(GRANTS_SOQL, "@{user.records[0].Id}"),
                "org": ORG_SOQL,
            }
        )
        return OrgReads(
            user=_running_user(found["user"], found["grants"]), organization=_org_info(found["org"])
        )

    def setup_reads(self, remote_site_name: str) -> SetupReads:
        """Installed packages and the named remote site: one Tooling composite call."""
        found = self.queries(
            {"packages": PACKAGES_SOQL, "site": format_soql(SITE_SOQL, remote_site_name)}, tooling=True
        )
        return SetupReads(packages=_packages(found["packages"]), remote_site=_remote_site(found["site"]))

    def running_user(self) -> RunningUser:
        return value_of(self.org_reads().user)

    # ----- packages -----------------------------------------------------------------------------
    def request_install(self, version_id: str) -> str:
        """Start a PackageInstallRequest for all users with third-party access approved; its 0Hf id."""
        body = {
            "SubscriberPackageVersionKey": version_id,
            "SecurityType": "Full",  # = Install for All Users
            "EnableRss": True,  # = approve third-party access (activate the package's remote sites)
            "NameConflictResolution": "Block",
        }
        created = self._call(
            "request the package install",
            lambda: self.sf.restful("tooling/sobjects/PackageInstallRequest/", method="POST", json=body),
        )
        return str(created["id"])

    def install_status(self, request_id: str) -> tuple[str, tuple[str, ...]]:
        rows = self.query(
            format_soql("SELECT Id, Status, Errors FROM PackageInstallRequest WHERE Id = {}", request_id),
            tooling=True,
        )
        if not rows:
            raise SalesforceFailure(f"install request {request_id} vanished", code="NOT_FOUND")
        errors = (rows[0].get("Errors") or {}).get("errors") or []
        return str(rows[0].get("Status", "UNKNOWN")), tuple(str(e.get("message", e)) for e in errors)

    def install_package(
        self,
        version_id: str,
        *,
        poll_interval: float = 2.0,
        max_polls: int = 150,
        retries: int = 2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> InstallOutcome:
        """Install and poll to done; start over on CumulusCI's known transient errors, `retries` times."""
        for attempt in range(retries + 1):
            request_id = self.request_install(version_id)
            status, polls = "IN_PROGRESS", 0
            errors: tuple[str, ...] = ()
            while status in ("IN_PROGRESS", "UNKNOWN") and polls < max_polls:
                polls += 1
                status, errors = self.install_status(request_id)
                if status in ("IN_PROGRESS", "UNKNOWN"):
                    sleep(poll_interval)
            transient = status == "ERROR" and any(t in e for e in errors for t in TRANSIENT_INSTALL_ERRORS)
            if not transient or attempt == retries:
                return InstallOutcome(request_id, status, errors, polls)
            log.info("install hit a transient error; trying again (%d/%d)", attempt + 1, retries)
            sleep(poll_interval)
        raise AssertionError("unreachable")

    # ----- Lightning preference -----------------------------------------------------------------
    def set_lightning_preferred(self, user_id: str, preferred: bool) -> None:
        self._call(
            "update the Lightning preference",
            lambda: self.sf.restful(
                f"sobjects/User/{user_id}",
                method="PATCH",
                json={"UserPreferencesLightningExperiencePreferred": preferred},
            ),
        )

    # ----- remote sites -------------------------------------------------------------------------
    @cached_property
    def _metadata(self) -> Any:
        """zeep Metadata service on this session (the WSDL simple-salesforce bundles); built on first use."""
        import zeep
        from zeep.transports import Transport

        client = zeep.Client(  # type: ignore[no-untyped-call]
            str(METADATA_WSDL),
            transport=Transport(session=self.session),  # type: ignore[no-untyped-call]
            settings=zeep.Settings(strict=False, xsd_ignore_sequence_order=True),
        )
        return client

    @contextmanager
    def _metadata_service(self) -> Iterator[tuple[Any, list[Any]]]:
        client = self._metadata
        service = client.create_service(
            "{http://soap.sforce.com/2006/04/metadata}MetadataBinding",
            f"https://{self.sf.sf_instance}/services/Soap/m/{self.login.api_version}",
        )
        header = client.get_element("ns0:SessionHeader")(sessionId=self.sf.session_id)
        yield service, [header]

    def upsert_remote_site(self, name: str, url: str, description: str) -> bool:
        """Create or update the remote site; True when it was created. Re-logs in once on an expired session."""
        for attempt in (1, 2):
            try:
                with self._metadata_service() as (service, headers):
                    site = self._metadata.get_type("ns0:RemoteSiteSetting")(
                        fullName=name,
                        url=url,
                        isActive=True,
                        disableProtocolSecurity=False,
                        description=description,
                    )
                    with idempotent_posts():  # an upsert of the same setting is safe to repeat
                        results = service.upsertMetadata([site], _soapheaders=headers)
            except Exception as exc:
                failure = failure_from(exc, "write the remote site")
                if (
                    isinstance(failure, SalesforceFailure)
                    and failure.code == "INVALID_SESSION_ID"
                    and attempt == 1
                ):
                    if self.login.auth == "access_token":
                        raise failure from None
                    self._relogin()
                    continue
                raise failure from None
            result = results[0]
            if not result.success:
                errors = "; ".join(f"{e.statusCode}: {e.message}" for e in (result.errors or []))
                raise SalesforceFailure(f"write the remote site: {errors}", code="METADATA_ERROR")
            return bool(result.created)
        raise AssertionError("unreachable")

    def _relogin(self) -> None:
        fresh = SalesforceClient.connect(self.login, self.session)
        self.sf = fresh.sf


def jwt_domains(domain: str) -> tuple[str, str | None]:
    """(audience domain, token host prefix) for simple-salesforce's JWT flow.

    The assertion's audience is login or test; the token may be requested from My Domain, which
    simple-salesforce takes as `instance_url='acme.my'`.
    """
    if domain in ("login", "test"):
        return domain, None
    return ("test" if ".sandbox.my" in domain else "login"), domain
