"""The Salesforce sandbox's state and rules: orgs, users, sessions, the package, remote sites.

No HTTP here: `wire.py` parses requests, calls these methods and serializes what they return.
Rules raise one of four errors, each carrying Salesforce's own codes:

- `ApiError` — a REST/Tooling error (HTTP status, errorCode, message, fields);
- `LoginError` — a failed SOAP login (exceptionCode and message);
- `OAuthError` — a failed token request (`error`, `error_description`);
- `MetadataFault` — a Metadata API SOAP fault (faultcode and message).

Every value an org hands out is derived from its label, so a reset brings back the same ids and
credentials; only session ids are random. The credentials are fake sandbox values, exposed on
purpose through `org_summary` and the control API.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import re
import secrets
import string
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from lsqsf_helpers import sfid
from lsqsf_helpers.sandbox import scenarios
from lsqsf_helpers.sandbox.salesforce import soql
from lsqsf_helpers.sandbox.salesforce.soql import FieldDef as F
from lsqsf_helpers.sandbox.salesforce.soql import RelationshipDef as R
from lsqsf_helpers.sandbox.salesforce.soql import SObjectType

LOGIN_HOST = "login.salesforce.com"
TEST_HOST = "test.salesforce.com"
SANDBOX_NAME = "uat"
DAILY_API_REQUESTS = 15000
INSTALL_POLLS_IN_PROGRESS = 2  # reads of a PackageInstallRequest that still see IN_PROGRESS
MAX_METADATA_COMPONENTS = 10
SUPPORTED_VERSIONS = tuple(f"{v}.0" for v in range(31, 64))  # 31.0 (Summer '14) … 63.0 (Spring '25)
SEEDED_AT = "2024-01-15T09:30:00.000+0000"
PACKAGE_ID = sfid.to18(scenarios.FAKE_PACKAGE_ID)
PACKAGE_VERSION_ID = sfid.to18(scenarios.FAKE_PACKAGE_VERSION_ID)
PACKAGE_REMOTE_SITE = "LSQ_API"  # the package's own remote site (activated by EnableRss)
PACKAGE_REMOTE_SITE_URL = "https://api.leadsquared.com"

SESSION_EXPIRED = "Session expired or invalid"
INVALID_LOGIN_MESSAGE = "Invalid username, password, security token; or user locked out."
NOT_FOUND_MESSAGE = "The requested resource does not exist"
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,28}[a-z0-9])?$")
_SITE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


# ----- errors ---------------------------------------------------------------------------------


class ApiError(Exception):
    """A REST or Tooling API error: the wire answers `status` with `[{"message","errorCode"[,"fields"]}]`."""

    def __init__(
        self, status: int, error_code: str, message: str, fields: Sequence[str] | None = None
    ) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = list(fields) if fields is not None else None

    def body(self) -> list[dict[str, Any]]:
        entry: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            entry["fields"] = self.fields
        return [entry]


class LoginError(Exception):
    def __init__(self, code: str = "INVALID_LOGIN", message: str = INVALID_LOGIN_MESSAGE) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


class MetadataFault(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


# ----- the one JWT key pair -------------------------------------------------------------------

_KEY_LOCK = threading.Lock()
_KEY_PAIR: tuple[str, str] | None = None


def jwt_key_pair() -> tuple[str, str]:
    """(private key PEM, public key PEM): one 2048-bit RSA pair per process, made on first use."""
    global _KEY_PAIR
    with _KEY_LOCK:
        if _KEY_PAIR is None:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            private_pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode()
            public_pem = (
                key.public_key()
                .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
                .decode()
            )
            _KEY_PAIR = (private_pem, public_pem)
        return _KEY_PAIR


# ----- helpers --------------------------------------------------------------------------------


def _derive(label: str, purpose: str, length: int, alphabet: str = _B62) -> str:
    """A deterministic string of `length` characters from the label and a purpose."""
    out: list[str] = []
    counter = 0
    while len(out) < length:
        digest = hashlib.sha256(f"lsqsf-sandbox:{label}:{purpose}:{counter}".encode()).digest()
        out.extend(alphabet[b % len(alphabet)] for b in digest)
        counter += 1
    return "".join(out[:length])


def now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _same_id(a: str | None, b: str | None) -> bool:
    return (
        bool(a)
        and bool(b)
        and str(a)[:15] == str(b)[:15]
        and len(str(a)) in (15, 18)
        and len(str(b)) in (15, 18)
    )


def my_domain_for(label: str) -> str:
    """The org's My Domain name: `lsqsf-<label>`, with every "-api" written "api".

    simple-salesforce 1.12.10 removes each "-api" from the host of the SOAP login's serverUrl
    (login.py, `soap_login`), so a My Domain containing "-api" (e.g. `lsqsf-no-api-access`) would
    send every later call to a host that does not exist.
    """
    name = f"lsqsf-{label}"
    while "-api" in name:
        name = name.replace("-api", "api")
    return name


def version_supported(version: str) -> bool:
    return version in SUPPORTED_VERSIONS


def release_name(version: str) -> str:
    """Salesforce's release label of an API version, e.g. '59.0' -> "Winter '24"."""
    k = int(float(version)) - 31
    season = ("Summer", "Winter", "Spring")[k % 3]
    return f"{season} '{14 + (k + 2) // 3:02d}"


# ----- object types ---------------------------------------------------------------------------


def _fields(spec: str) -> tuple[F, ...]:
    """Field definitions from a compact spec: `Name` (a string) or `Name:type`, separated by spaces."""
    out = []
    for item in spec.split():
        name, _, kind = item.partition(":")
        out.append(F(name, kind or "string"))
    return tuple(out)


_AUDIT = "CreatedDate:datetime CreatedById:reference LastModifiedDate:datetime LastModifiedById:reference "
_AUDIT += "SystemModstamp:datetime"
_AUDIT_RELS = (R("CreatedBy", "User", "CreatedById"), R("LastModifiedBy", "User", "LastModifiedById"))
PERMISSION_FIELDS = (
    "PermissionsApiEnabled",
    "PermissionsModifyAllData",
    "PermissionsViewAllData",
    "PermissionsCustomizeApplication",
    "PermissionsInstallPackaging",
    "PermissionsViewSetup",
    "PermissionsManageUsers",
    "PermissionsLightningExperienceUser",
)
_PERMISSIONS = " ".join(f"{p}:boolean" for p in PERMISSION_FIELDS)
# The fields, in order, of a real org's Organization record (recorded/sobjects-Organization-get.json).
ORGANIZATION_FIELDS = _fields(
    """Id:id Name Division Street City State PostalCode Country Latitude:double Longitude:double
    GeocodeAccuracy Address:object Phone Fax PrimaryContact DefaultLocaleSidKey TimeZoneSidKey
    LanguageLocaleKey ReceivesInfoEmails:boolean ReceivesAdminInfoEmails:boolean
    PreferencesRequireOpportunityProducts:boolean PreferencesTransactionSecurityPolicy:boolean
    PreferencesTerminateOldestSession:boolean PreferencesConsentManagementEnabled:boolean
    PreferencesAutoSelectIndividualOnMerge:boolean PreferencesLightningLoginEnabled:boolean
    PreferencesOnlyLLPermUserAllowed:boolean FiscalYearStartMonth:int UsesStartDateAsFiscalYearName:boolean
    DefaultAccountAccess DefaultContactAccess DefaultOpportunityAccess DefaultLeadAccess DefaultCaseAccess
    DefaultCalendarAccess DefaultPricebookAccess DefaultCampaignAccess SystemModstamp:datetime
    ComplianceBccEmail UiSkin SignupCountryIsoCode TrialExpirationDate:datetime NumKnowledgeService:int
    OrganizationType NamespacePrefix InstanceName IsSandbox:boolean WebToCaseDefaultOrigin
    MonthlyPageViewsUsed:int MonthlyPageViewsEntitlement:int IsReadOnly:boolean CreatedDate:datetime
    CreatedById:reference LastModifiedDate:datetime LastModifiedById:reference"""
)


def _types(*types: SObjectType) -> dict[str, SObjectType]:
    return {t.name.lower(): t for t in types}


REST_TYPES = _types(
    SObjectType(
        "User",
        _fields(
            """Id:id Username LastName FirstName Name Alias Email IsActive:boolean ProfileId:reference
            UserRoleId:reference UserType LanguageLocaleKey LocaleSidKey TimeZoneSidKey EmailEncodingKey
            UserPreferencesLightningExperiencePreferred:boolean LastLoginDate:datetime """
            + _AUDIT
        ),
        (R("Profile", "Profile", "ProfileId"), *_AUDIT_RELS),
    ),
    SObjectType(
        "Profile",
        _fields(f"Id:id Name UserType Description {_PERMISSIONS} {_AUDIT}"),
        _AUDIT_RELS,
    ),
    SObjectType(
        "PermissionSet",
        _fields(
            "Id:id Name Label IsOwnedByProfile:boolean ProfileId:reference NamespacePrefix "
            f"{_PERMISSIONS} {_AUDIT}"
        ),
        (R("Profile", "Profile", "ProfileId"), *_AUDIT_RELS),
    ),
    SObjectType(
        "PermissionSetAssignment",
        _fields("Id:id AssigneeId:reference PermissionSetId:reference SystemModstamp:datetime"),
        (R("Assignee", "User", "AssigneeId"), R("PermissionSet", "PermissionSet", "PermissionSetId")),
    ),
    SObjectType("Organization", ORGANIZATION_FIELDS, _AUDIT_RELS),
)

TOOLING_TYPES = _types(
    SObjectType(
        "InstalledSubscriberPackage",
        _fields(
            "Id:id SubscriberPackageId:reference SubscriberPackageVersionId:reference "
            f"MinPackageVersionId:reference IsDeleted:boolean {_AUDIT}"
        ),
        (
            R("SubscriberPackage", "SubscriberPackage", "SubscriberPackageId"),
            R("SubscriberPackageVersion", "SubscriberPackageVersion", "SubscriberPackageVersionId"),
        ),
    ),
    SObjectType(
        "SubscriberPackage", _fields("Id:id Name NamespacePrefix Description IsPackageValid:boolean")
    ),
    SObjectType(
        "SubscriberPackageVersion",
        _fields(
            """Id:id Name Description SubscriberPackageId:reference MajorVersion:int MinorVersion:int
            PatchVersion:int BuildNumber:int IsBeta:boolean IsManaged:boolean IsPasswordProtected:boolean
            IsDeprecated:boolean ReleaseState Package2ContainerOptions"""
        ),
        (R("SubscriberPackage", "SubscriberPackage", "SubscriberPackageId"),),
    ),
    SObjectType(
        "RemoteProxy",
        _fields(
            "Id:id SiteName EndpointUrl IsActive:boolean Description NamespacePrefix "
            "ProtocolMismatch:boolean "
            f"ManageableState FullName Metadata:object {_AUDIT}"
        ),
        (),
        frozenset({"FullName", "Metadata"}),
    ),
    SObjectType(
        "PackageInstallRequest",
        _fields(
            """Id:id IsDeleted:boolean SubscriberPackageVersionKey NameConflictResolution SecurityType
            PackageInstallSource ProfileMappings:object EnableRss:boolean UpgradeType ApexCompileType Status
            Errors:object """
            + _AUDIT
        ),
    ),
)

UPDATABLE: dict[str, frozenset[str]] = {
    "User": frozenset(
        [
            "UserPreferencesLightningExperiencePreferred",
            "FirstName",
            "LastName",
            "Email",
            "Alias",
            "TimeZoneSidKey",
            "LocaleSidKey",
            "LanguageLocaleKey",
        ]
    ),
}
INSTALL_REQUEST_WRITABLE = {
    "subscriberpackageversionkey": "SubscriberPackageVersionKey",
    "securitytype": "SecurityType",
    "enablerss": "EnableRss",
    "nameconflictresolution": "NameConflictResolution",
    "password": "Password",
    "upgradetype": "UpgradeType",
    "apexcompiletype": "ApexCompileType",
}
PICKLISTS = {
    "SecurityType": ("Full", "None", "Custom"),
    "NameConflictResolution": ("Block", "RenameMetadata"),
    "UpgradeType": ("DeprecateOnly", "Mixed", "Delete"),
    "ApexCompileType": ("all", "package"),
}


# ----- state ----------------------------------------------------------------------------------


@dataclass
class RemoteSite:
    record_id: str
    name: str  # without namespace
    url: str
    is_active: bool
    disable_protocol_security: bool = False
    description: str | None = None
    namespace: str | None = None
    created: str = SEEDED_AT
    modified: str = SEEDED_AT

    @property
    def full_name(self) -> str:
        return f"{self.namespace}__{self.name}" if self.namespace else self.name


@dataclass
class InstallRequest:
    record_id: str
    version_key: str
    security_type: str
    enable_rss: bool
    name_conflict: str
    created_by: str
    password: str | None = None
    upgrade_type: str | None = None
    apex_compile_type: str | None = None
    status: str = "IN_PROGRESS"
    errors: list[str] = field(default_factory=list)
    polls: int = 0
    created: str = SEEDED_AT
    modified: str = SEEDED_AT


@dataclass
class Session:
    token: str
    label: str
    user_id: str
    kind: str  # "soap" | "oauth"


@dataclass
class SaveOutcome:
    """One Metadata API SaveResult/UpsertResult/DeleteResult."""

    full_name: str
    success: bool
    created: bool = False
    errors: list[tuple[str, str, list[str]]] = field(default_factory=list)  # (statusCode, message, fields)


@dataclass
class LoginResult:
    org: Org
    user: dict[str, Any]
    session_id: str
    version: str


@dataclass
class Org:
    label: str
    spec: scenarios.ScenarioSpec
    serial_base: int
    pod: str
    my_domain_name: str
    host: str
    login_host: str
    org_id: str
    user_id: str
    username: str
    password: str
    security_token: str
    consumer_key: str
    consumer_secret: str
    jwt_consumer_key: str
    jwt_consumer_secret: str
    jwt_public_key: str
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    remote_sites: dict[str, RemoteSite] = field(default_factory=dict)  # key: lower-case full name
    install_requests: dict[str, InstallRequest] = field(default_factory=dict)
    installed: dict[str, Any] | None = None  # the InstalledSubscriberPackage row
    api_used: int = 0
    next_serial: int = 100

    @property
    def org_id15(self) -> str:
        return self.org_id[:15]

    @property
    def is_sandbox(self) -> bool:
        return self.spec.is_sandbox

    @property
    def instance_url(self) -> str:
        return f"https://{self.host}"

    @property
    def connector_page_origin(self) -> str:
        """Where the connector's Visualforce pages are served (enhanced domains): the right remote site."""
        ns = scenarios.FAKE_NAMESPACE
        if self.is_sandbox:
            return f"https://{self.my_domain_name}--{SANDBOX_NAME}--{ns}.sandbox.vf.force.com"
        return f"https://{self.my_domain_name}--{ns}.vf.force.com"

    def mint(self, prefix: str) -> str:
        self.next_serial += 1
        return sfid.mint(prefix, self.pod, self.serial_base + self.next_serial)

    def find(self, object_name: str, record_id: str) -> dict[str, Any] | None:
        for row in self.tables.get(object_name, []):
            if _same_id(row.get("Id"), record_id):
                return row
        return None

    @property
    def user(self) -> dict[str, Any]:
        row = self.find("User", self.user_id)
        assert row is not None
        return row

    def permissions(self, user_id: str) -> dict[str, bool]:
        """The union of the permission flags of every permission set assigned to the user."""
        flags = dict.fromkeys(PERMISSION_FIELDS, False)
        for psa in self.tables["PermissionSetAssignment"]:
            if _same_id(psa["AssigneeId"], user_id):
                ps = self.find("PermissionSet", psa["PermissionSetId"])
                if ps:
                    for name in PERMISSION_FIELDS:
                        flags[name] = flags[name] or bool(ps[name])
        return flags


class _Source:
    """`soql.DataSource` over one org's REST or Tooling objects."""

    def __init__(self, model: SalesforceModel, org: Org, api: str) -> None:
        self.model = model
        self.org = org
        self.types = TOOLING_TYPES if api == "tooling" else REST_TYPES

    def sobject_type(self, name: str) -> SObjectType | None:
        return self.types.get(name.lower())

    def rows(self, object_name: str) -> Sequence[Mapping[str, Any]]:
        return self.model.rows(self.org, object_name)

    def get(self, object_name: str, record_id: str) -> Mapping[str, Any] | None:
        for row in self.rows(object_name):
            if _same_id(row.get("Id"), record_id):
                return row
        return None


# ----- the model ------------------------------------------------------------------------------


class SalesforceModel:
    """Every emulated Salesforce org, keyed by label; all methods run under the app's lock."""

    def __init__(self) -> None:
        self.orgs: dict[str, Org] = {}
        self._by_host: dict[str, str] = {}
        self.sessions: dict[str, Session] = {}

    # ----- orgs -----------------------------------------------------------------------------
    def add_org(self, label: str, spec: scenarios.ScenarioSpec) -> None:
        if not _LABEL.match(label):
            raise ValueError(f"org label {label!r} must be lower-case letters, digits and hyphens (max 30)")
        if label in self.orgs:
            raise ValueError(f"an org labelled {label!r} already exists")
        my_domain_name = my_domain_for(label)
        if spec.is_sandbox:
            host = f"{my_domain_name}--{SANDBOX_NAME}.sandbox.my.salesforce.com"
            login_host = TEST_HOST
        else:
            host = f"{my_domain_name}.my.salesforce.com"
            login_host = LOGIN_HOST
        serial_base = int(hashlib.sha256(label.encode()).hexdigest()[:8], 16) % 100_000 * 10_000
        pod = "7s" if spec.is_sandbox else "5g"
        username = f"admin@{my_domain_name}.example" + (f".{SANDBOX_NAME}" if spec.is_sandbox else "")
        org = Org(
            label=label,
            spec=spec,
            serial_base=serial_base,
            pod=pod,
            my_domain_name=my_domain_name,
            host=host,
            login_host=login_host,
            org_id=sfid.mint("00D", pod, serial_base),
            user_id=sfid.mint("005", pod, serial_base + 1),
            username=username,
            password=f"Sbx-{_derive(label, 'password', 10)}&1",
            security_token=_derive(label, "security-token", 24),
            consumer_key="3MVG9" + _derive(label, "consumer-key", 80),
            consumer_secret=_derive(label, "consumer-secret", 64, "0123456789ABCDEF"),
            jwt_consumer_key="3MVG9" + _derive(label, "jwt-consumer-key", 80),
            jwt_consumer_secret=_derive(label, "jwt-consumer-secret", 64, "0123456789ABCDEF"),
            jwt_public_key=jwt_key_pair()[1],
            api_used=DAILY_API_REQUESTS if spec.api_requests_exhausted else 0,
        )
        self._seed(org)
        self.orgs[label] = org
        self._by_host[host] = label

    def _seed(self, org: Org) -> None:
        spec, pod, base = org.spec, org.pod, org.serial_base
        admin_profile = sfid.mint("00e", pod, base + 1)
        standard_profile = sfid.mint("00e", pod, base + 2)
        owner_id = sfid.mint("005", pod, base + 2)
        audit = {
            "CreatedDate": SEEDED_AT,
            "CreatedById": owner_id,
            "LastModifiedDate": SEEDED_AT,
            "LastModifiedById": owner_id,
            "SystemModstamp": SEEDED_AT,
        }

        def perms(admin: bool) -> dict[str, bool]:
            granted = {"PermissionsApiEnabled", "PermissionsLightningExperienceUser"}
            return {p: admin or p in granted for p in PERMISSION_FIELDS}

        profiles: list[dict[str, Any]] = [
            {
                "Id": admin_profile,
                "Name": "System Administrator",
                "UserType": "Standard",
                "Description": None,
                **perms(True),
                **audit,
            },
            {
                "Id": standard_profile,
                "Name": "Standard User",
                "UserType": "Standard",
                "Description": None,
                **perms(False),
                **audit,
            },
        ]
        permsets = [
            {
                "Id": sfid.mint("0PS", pod, base + n),
                "Name": f"X{p['Id'][:15]}",
                "Label": f"00ex{n}",
                "IsOwnedByProfile": True,
                "ProfileId": p["Id"],
                "NamespacePrefix": None,
                **{k: p[k] for k in PERMISSION_FIELDS},
                **audit,
            }
            for n, p in enumerate(profiles, start=1)
        ]
        runbook_profile = admin_profile if spec.user_is_admin else standard_profile
        email_suffix = ".invalid" if spec.is_sandbox else ""

        def user(
            uid: str, first: str, last: str, username: str, profile: str, lightning: bool
        ) -> dict[str, Any]:
            return {
                "Id": uid,
                "Username": username,
                "LastName": last,
                "FirstName": first,
                "Name": f"{first} {last}",
                "Alias": (first[:1] + last[:4]).lower(),
                "Email": username.removesuffix(f".{SANDBOX_NAME}") + email_suffix,
                "IsActive": True,
                "ProfileId": profile,
                "UserRoleId": None,
                "UserType": "Standard",
                "LanguageLocaleKey": "en_US",
                "LocaleSidKey": "en_US",
                "TimeZoneSidKey": "America/Los_Angeles",
                "EmailEncodingKey": "UTF-8",
                "UserPreferencesLightningExperiencePreferred": lightning,
                "LastLoginDate": None,
                **audit,
            }

        users = [
            user(
                org.user_id,
                "Runbook",
                "Admin" if spec.user_is_admin else "User",
                org.username,
                runbook_profile,
                spec.lightning_preferred,
            ),
            user(
                owner_id,
                "Org",
                "Owner",
                f"owner@{org.my_domain_name}.example" + (f".{SANDBOX_NAME}" if spec.is_sandbox else ""),
                admin_profile,
                True,
            ),
        ]
        ps_of = {p["ProfileId"]: p["Id"] for p in permsets}
        assignments = [
            {
                "Id": sfid.mint("0Pa", pod, base + n),
                "AssigneeId": u["Id"],
                "PermissionSetId": ps_of[u["ProfileId"]],
                "SystemModstamp": SEEDED_AT,
            }
            for n, u in enumerate(users, start=1)
        ]
        organization: dict[str, Any] = {f.name: None for f in ORGANIZATION_FIELDS}
        organization.update(
            {
                "Id": org.org_id,
                "Name": f"LSQSF Sandbox {org.label}",
                "Country": "US",
                "Address": {
                    "city": None,
                    "country": "US",
                    "geocodeAccuracy": None,
                    "latitude": None,
                    "longitude": None,
                    "postalCode": None,
                    "state": None,
                    "street": None,
                },
                "PrimaryContact": "Org Owner",
                "DefaultLocaleSidKey": "en_US",
                "TimeZoneSidKey": "America/Los_Angeles",
                "LanguageLocaleKey": "en_US",
                "ReceivesInfoEmails": True,
                "ReceivesAdminInfoEmails": True,
                "PreferencesRequireOpportunityProducts": False,
                "PreferencesTransactionSecurityPolicy": False,
                "PreferencesTerminateOldestSession": False,
                "PreferencesConsentManagementEnabled": True,
                "PreferencesAutoSelectIndividualOnMerge": False,
                "PreferencesLightningLoginEnabled": True,
                "PreferencesOnlyLLPermUserAllowed": False,
                "FiscalYearStartMonth": 1,
                "UsesStartDateAsFiscalYearName": False,
                "DefaultAccountAccess": "Edit",
                "DefaultContactAccess": "ControlledByParent",
                "DefaultOpportunityAccess": "Edit",
                "DefaultLeadAccess": "ReadEditTransfer",
                "DefaultCaseAccess": "ReadEditTransfer",
                "DefaultCalendarAccess": "HideDetailsInsert",
                "DefaultPricebookAccess": "ReadSelect",
                "DefaultCampaignAccess": "All",
                "SystemModstamp": SEEDED_AT,
                "UiSkin": "Theme3",
                "SignupCountryIsoCode": "US",
                "NumKnowledgeService": 0,
                "OrganizationType": spec.edition,
                "InstanceName": "CS220" if spec.is_sandbox else "NA224",
                "IsSandbox": spec.is_sandbox,
                "WebToCaseDefaultOrigin": "Web",
                "MonthlyPageViewsUsed": 0,
                "MonthlyPageViewsEntitlement": 0,
                "IsReadOnly": False,
                "CreatedDate": SEEDED_AT,
                "CreatedById": owner_id,
                "LastModifiedDate": SEEDED_AT,
                "LastModifiedById": owner_id,
            }
        )
        org.tables = {
            "User": users,
            "Profile": profiles,
            "PermissionSet": permsets,
            "PermissionSetAssignment": assignments,
            "Organization": [organization],
        }
        if spec.package_installed:
            self._install_package(org, enable_rss=True, when=SEEDED_AT)
        site_url = {"wrong_url": scenarios.WRONG_REMOTE_SITE_URL}.get(
            spec.remote_site, org.connector_page_origin
        )
        if spec.remote_site != "missing":
            org.remote_sites[scenarios.REMOTE_SITE_NAME.lower()] = RemoteSite(
                record_id=org.mint("0rp"),
                name=scenarios.REMOTE_SITE_NAME,
                url=site_url,
                is_active=spec.remote_site != "inactive",
                description="LeadSquared Connector page",
            )

    def _install_package(self, org: Org, *, enable_rss: bool, when: str) -> None:
        org.installed = {
            "Id": org.mint("0A3"),
            "SubscriberPackageId": PACKAGE_ID,
            "SubscriberPackageVersionId": PACKAGE_VERSION_ID,
            "MinPackageVersionId": None,
            "IsDeleted": False,
            "CreatedDate": when,
            "CreatedById": org.user_id,
            "LastModifiedDate": when,
            "LastModifiedById": org.user_id,
            "SystemModstamp": when,
        }
        full = f"{scenarios.FAKE_NAMESPACE}__{PACKAGE_REMOTE_SITE}".lower()
        site = org.remote_sites.get(full)
        if site is None:
            org.remote_sites[full] = RemoteSite(
                record_id=org.mint("0rp"),
                name=PACKAGE_REMOTE_SITE,
                url=PACKAGE_REMOTE_SITE_URL,
                is_active=enable_rss,
                namespace=scenarios.FAKE_NAMESPACE,
                description="LeadSquared API (installed with the package)",
                created=when,
                modified=when,
            )
        elif enable_rss and not site.is_active:
            site.is_active = True
            site.modified = when

    def org_for_host(self, host: str) -> str | None:
        return self._by_host.get(host.lower())

    def org(self, label: str) -> Org:
        return self.orgs[label]

    def org_summary(self, label: str) -> dict[str, Any]:
        org = self.orgs[label]
        return {
            "login_host": org.login_host,
            "my_domain": org.host,
            "my_domain_name": org.my_domain_name,
            "instance_url": org.instance_url,
            "is_sandbox": org.is_sandbox,
            "org_id": org.org_id,
            "user_id": org.user_id,
            "username": org.username,
            "password": org.password,
            "security_token": org.security_token,
            "consumer_key": org.consumer_key,
            "consumer_secret": org.consumer_secret,
            "jwt_consumer_key": org.jwt_consumer_key,
            "jwt_private_key": jwt_key_pair()[0],
            "edition": org.spec.edition,
            "connector_page_origin": org.connector_page_origin,
            "api_requests": {"used": org.api_used, "max": DAILY_API_REQUESTS},
        }

    # What a rolled-back transaction restores (a composite call with allOrNone); usage counts stay.
    _TRANSACTIONAL = ("tables", "remote_sites", "install_requests", "installed", "next_serial")

    def savepoint(self, org: Org) -> dict[str, Any]:
        return {name: copy.deepcopy(getattr(org, name)) for name in self._TRANSACTIONAL}

    def rollback(self, org: Org, saved: dict[str, Any]) -> None:
        for name, value in saved.items():
            setattr(org, name, value)

    def expire_sessions(self, label: str) -> None:
        for token in [t for t, s in self.sessions.items() if s.label == label]:
            del self.sessions[token]

    # ----- authentication -------------------------------------------------------------------
    def _new_session(self, org: Org, user_id: str, kind: str) -> Session:
        token = f"{org.org_id15}!AQ" + secrets.token_urlsafe(72).replace("-", ".")
        session = Session(token, org.label, user_id, kind)
        self.sessions[token] = session
        user = org.find("User", user_id)
        if user is not None:
            user["LastLoginDate"] = now_stamp()
        return session

    def _orgs_for_login_host(self, host: str) -> list[Org]:
        """Orgs whose users may log in at this host: the org itself on its My Domain, else by org kind."""
        host = host.lower()
        if host == LOGIN_HOST:
            return [o for o in self.orgs.values() if not o.is_sandbox]
        if host == TEST_HOST:
            return [o for o in self.orgs.values() if o.is_sandbox]
        label = self._by_host.get(host)
        return [self.orgs[label]] if label else []

    def _user_by_name(self, host: str, username: str | None) -> tuple[Org, dict[str, Any]] | None:
        if not username:
            return None
        for org in self._orgs_for_login_host(host):
            if org.username.lower() == username.strip().lower():
                return org, org.user
        return None

    def soap_login(self, host: str, username: str | None, password: str | None, version: str) -> LoginResult:
        """Partner API login: the password must be the user's password followed by the security token."""
        found = self._user_by_name(host, username)
        if found is None:
            raise LoginError()
        org, user = found
        if password != org.password + org.security_token:
            raise LoginError()
        session = self._new_session(org, org.user_id, "soap")
        return LoginResult(org, user, session.token, version)

    def oauth_token(
        self, host: str, form: Mapping[str, str], basic: tuple[str, str] | None
    ) -> dict[str, Any]:
        """POST /services/oauth2/token: client_credentials, JWT bearer and username-password grants."""
        grant = form.get("grant_type", "")
        if grant == "client_credentials":
            org = self._client_credentials(host, form, basic)
            return self._token_response(org, org.consumer_secret)
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            org = self._jwt_bearer(host, form.get("assertion", ""))
            return self._token_response(org, org.jwt_consumer_secret)
        if grant == "password":
            org = self._password_grant(host, form)
            return self._token_response(org, org.consumer_secret)
        if not grant:
            raise OAuthError("invalid_request", "grant type not supported")
        raise OAuthError("unsupported_grant_type", "grant type not supported")

    def _client_credentials(self, host: str, form: Mapping[str, str], basic: tuple[str, str] | None) -> Org:
        label = self._by_host.get(host.lower())
        if label is None:
            raise OAuthError("invalid_grant", "request not supported on this domain")
        key, secret = basic if basic else (form.get("client_id", ""), form.get("client_secret", ""))
        org = self.orgs[label]
        if key != org.consumer_key:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if not hmac.compare_digest(secret.encode(), org.consumer_secret.encode()):
            raise OAuthError("invalid_client", "invalid client credentials")
        return org

    def _password_grant(self, host: str, form: Mapping[str, str]) -> Org:
        key = form.get("client_id", "")
        org = next((o for o in self._orgs_for_login_host(host) if o.consumer_key == key), None)
        if org is None:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if not hmac.compare_digest(form.get("client_secret", "").encode(), org.consumer_secret.encode()):
            raise OAuthError("invalid_client", "invalid client credentials")
        if form.get("username", "").lower() != org.username.lower() or form.get("password") != (
            org.password + org.security_token
        ):
            raise OAuthError("invalid_grant", "authentication failure")
        return org

    def _jwt_bearer(self, host: str, assertion: str) -> Org:
        try:
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise OAuthError("invalid_grant", "invalid assertion") from None
        iss = claims.get("iss")
        org = next((o for o in self._orgs_for_login_host(host) if o.jwt_consumer_key == iss), None)
        if org is None:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        try:
            jwt.decode(
                assertion,
                org.jwt_public_key,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_aud": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError:
            raise OAuthError("invalid_grant", "invalid assertion") from None
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        allowed = {f"https://{org.login_host}", org.instance_url}
        if not any(isinstance(a, str) and a.rstrip("/") in allowed for a in audiences):
            raise OAuthError("invalid_grant", "Audience validation failed")
        exp = claims.get("exp")
        try:
            exp_value = (
                float(exp) if isinstance(exp, int | float | str) and not isinstance(exp, bool) else None
            )
        except ValueError:
            exp_value = None
        if exp_value is None or exp_value <= time.time():
            raise OAuthError("invalid_grant", "expired or missing exp claim in the assertion")
        sub = claims.get("sub")
        if not isinstance(sub, str) or sub.lower() != org.username.lower():
            raise OAuthError("invalid_grant", "invalid assertion")
        return org

    def _token_response(self, org: Org, secret: str) -> dict[str, Any]:
        session = self._new_session(org, org.user_id, "oauth")
        issued_at = str(int(time.time() * 1000))
        id_url = f"https://{org.login_host}/id/{org.org_id}/{org.user_id}"
        signature = base64.b64encode(
            hmac.new(secret.encode(), (id_url + issued_at).encode(), hashlib.sha256).digest()
        ).decode()
        return {
            "access_token": session.token,
            "scope": "api",
            "instance_url": org.instance_url,
            "id": id_url,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": signature,
        }

    def begin_call(self, label: str | None, token: str | None, api: str) -> tuple[Org, Session]:
        """Authorize one REST/Tooling/Metadata call and count it against the org's daily requests."""
        org = self.orgs.get(label) if label else None
        session = self.sessions.get(token) if token else None
        if org is None or session is None or session.label != org.label:
            raise ApiError(401, "INVALID_SESSION_ID", SESSION_EXPIRED)
        if not org.spec.api_enabled:
            raise ApiError(403, "API_DISABLED_FOR_ORG", "The REST API is not enabled for this Organization.")
        if org.api_used >= DAILY_API_REQUESTS:
            raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        org.api_used += 1
        return org, session

    def limit_info(self, label: str) -> str:
        return f"api-usage={self.orgs[label].api_used}/{DAILY_API_REQUESTS}"

    def userinfo(self, host: str, token: str | None) -> dict[str, Any] | None:
        """The OpenID Connect userinfo of a session, or None for a bad token (the wire answers 403)."""
        session = self.sessions.get(token) if token else None
        if session is None:
            return None
        org = self.orgs[session.label]
        label = self._by_host.get(host.lower())
        if label is not None and label != org.label:
            return None
        if label is None and host.lower() != org.login_host:
            return None
        user = org.find("User", session.user_id) or org.user
        base = org.instance_url
        o15 = org.org_id15
        return {
            "sub": f"https://{org.login_host}/id/{org.org_id}/{user['Id']}",
            "user_id": user["Id"],
            "organization_id": org.org_id,
            "preferred_username": user["Username"],
            "nickname": user["Alias"],
            "name": user["Name"],
            "email": user["Email"],
            "email_verified": True,
            "given_name": user["FirstName"],
            "family_name": user["LastName"],
            "zoneinfo": user["TimeZoneSidKey"],
            "photos": {"picture": f"{base}/profilephoto/005/F", "thumbnail": f"{base}/profilephoto/005/T"},
            "profile": f"{base}/{user['Id']}",
            "picture": f"{base}/profilephoto/005/F",
            "address": {"country": "US"},
            "is_salesforce_integration_user": False,
            "urls": {
                "enterprise": f"{base}/services/Soap/c/{{version}}/{o15}",
                "metadata": f"{base}/services/Soap/m/{{version}}/{o15}",
                "partner": f"{base}/services/Soap/u/{{version}}/{o15}",
                "rest": f"{base}/services/data/v{{version}}/",
                "sobjects": f"{base}/services/data/v{{version}}/sobjects/",
                "search": f"{base}/services/data/v{{version}}/search/",
                "query": f"{base}/services/data/v{{version}}/query/",
                "recent": f"{base}/services/data/v{{version}}/recent/",
                "tooling_soap": f"{base}/services/Soap/T/{{version}}/{o15}",
                "tooling_rest": f"{base}/services/data/v{{version}}/tooling/",
                "profile": f"{base}/{user['Id']}",
                "feeds": f"{base}/services/data/v{{version}}/chatter/feeds",
                "groups": f"{base}/services/data/v{{version}}/chatter/groups",
                "users": f"{base}/services/data/v{{version}}/chatter/users",
                "feed_items": f"{base}/services/data/v{{version}}/chatter/feed-items",
                "custom_domain": base,
            },
            "active": True,
            "user_type": "STANDARD",
            "language": user["LanguageLocaleKey"],
            "locale": user["LocaleSidKey"],
            "utcOffset": -28800000,
            "updated_at": user["LastModifiedDate"].replace(".000+0000", "Z"),
            "is_app_installed": True,
        }

    # ----- rows -----------------------------------------------------------------------------
    def rows(self, org: Org, object_name: str) -> list[dict[str, Any]]:
        """Current rows of an object (REST or Tooling), keyed by canonical field names."""
        if object_name in org.tables:
            return org.tables[object_name]
        if object_name == "InstalledSubscriberPackage":
            return [org.installed] if org.installed else []
        if object_name == "SubscriberPackage":
            return [
                {
                    "Id": PACKAGE_ID,
                    "Name": scenarios.FAKE_PACKAGE_NAME,
                    "NamespacePrefix": scenarios.FAKE_NAMESPACE,
                    "Description": "Sandbox stand-in for the LeadSquared Connector managed package",
                    "IsPackageValid": True,
                }
            ]
        if object_name == "SubscriberPackageVersion":
            major, minor, patch, build = scenarios.FAKE_PACKAGE_VERSION
            return [
                {
                    "Id": PACKAGE_VERSION_ID,
                    "Name": f"{major}.{minor}",
                    "Description": None,
                    "SubscriberPackageId": PACKAGE_ID,
                    "MajorVersion": major,
                    "MinorVersion": minor,
                    "PatchVersion": patch,
                    "BuildNumber": build,
                    "IsBeta": False,
                    "IsManaged": True,
                    "IsPasswordProtected": False,
                    "IsDeprecated": False,
                    "ReleaseState": "Released",
                    "Package2ContainerOptions": "Managed",
                }
            ]
        if object_name == "RemoteProxy":
            return [self._remote_proxy_row(org, site) for site in org.remote_sites.values()]
        if object_name == "PackageInstallRequest":
            return [self._install_request_row(req) for req in org.install_requests.values()]
        return []

    def _remote_proxy_row(self, org: Org, site: RemoteSite) -> dict[str, Any]:
        return {
            "Id": site.record_id,
            "SiteName": site.name,
            "EndpointUrl": site.url,
            "IsActive": site.is_active,
            "Description": site.description,
            "NamespacePrefix": site.namespace,
            "ProtocolMismatch": site.disable_protocol_security,
            "ManageableState": "installed" if site.namespace else "unmanaged",
            "FullName": site.full_name,
            "Metadata": {
                "description": site.description,
                "disableProtocolSecurity": site.disable_protocol_security,
                "isActive": site.is_active,
                "url": site.url,
            },
            "CreatedDate": site.created,
            "CreatedById": org.user_id,
            "LastModifiedDate": site.modified,
            "LastModifiedById": org.user_id,
            "SystemModstamp": site.modified,
        }

    def _install_request_row(self, req: InstallRequest) -> dict[str, Any]:
        return {
            "Id": req.record_id,
            "IsDeleted": False,
            "SubscriberPackageVersionKey": req.version_key,
            "NameConflictResolution": req.name_conflict,
            "SecurityType": req.security_type,
            "PackageInstallSource": "U",
            "ProfileMappings": None,
            "EnableRss": req.enable_rss,
            "UpgradeType": req.upgrade_type,
            "ApexCompileType": req.apex_compile_type,
            "Status": req.status,
            "Errors": {"errors": [{"message": m} for m in req.errors]} if req.errors else None,
            "CreatedDate": req.created,
            "CreatedById": req.created_by,
            "LastModifiedDate": req.modified,
            "LastModifiedById": req.created_by,
            "SystemModstamp": req.modified,
        }

    def _observe(self, org: Org) -> Callable[[str, list[Mapping[str, Any]]], list[Mapping[str, Any]]]:
        """The on-read hook of a query: each read of an install request moves it along."""

        def on_read(object_name: str, rows: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
            if object_name != "PackageInstallRequest":
                return rows
            out: list[Mapping[str, Any]] = []
            for row in rows:
                req = org.install_requests[str(row["Id"])]
                self._advance(org, req)
                out.append(self._install_request_row(req))
            return out

        return on_read

    def _advance(self, org: Org, req: InstallRequest) -> None:
        req.polls += 1
        if req.status != "IN_PROGRESS" or req.polls <= INSTALL_POLLS_IN_PROGRESS:
            return
        when = now_stamp()
        req.modified = when
        if org.spec.install_outcome == "ERROR":
            req.status = "ERROR"
            req.errors = [
                f"{scenarios.FAKE_PACKAGE_NAME}: the package could not be installed into this organization "
                "(the sandbox scenario makes every install fail)."
            ]
        elif org.installed is not None and _same_id(
            org.installed["SubscriberPackageVersionId"], req.version_key
        ):
            req.status = "ERROR"
            req.errors = [f"{scenarios.FAKE_PACKAGE_NAME}: this package version is already installed."]
        else:
            req.status = "SUCCESS"
            self._install_package(org, enable_rss=req.enable_rss, when=when)

    # ----- REST / Tooling data --------------------------------------------------------------
    @staticmethod
    def _base_path(api: str, version: str) -> str:
        return f"/services/data/v{version}/" + ("tooling/sobjects" if api == "tooling" else "sobjects")

    def query(self, org: Org, api: str, soql_text: str, version: str) -> dict[str, Any]:
        """Run a query; raises soql.SoqlError for queries Salesforce (or the sandbox) refuses."""
        base = self._base_path(api, version)
        result = soql.execute(
            soql_text, _Source(self, org, api), lambda obj, rid: f"{base}/{obj}/{rid}", self._observe(org)
        )
        n = len(result.records)
        if api == "tooling":
            return {
                "size": n,
                "totalSize": n,
                "done": True,
                "queryLocator": None,
                "entityTypeName": result.sobject if n else None,
                "records": result.records,
            }
        return {"totalSize": n, "done": True, "records": result.records}

    def _type(self, api: str, object_name: str) -> SObjectType:
        found = (TOOLING_TYPES if api == "tooling" else REST_TYPES).get(object_name.lower())
        if found is None:
            raise ApiError(404, "NOT_FOUND", NOT_FOUND_MESSAGE)
        return found

    def get_record(
        self, org: Org, api: str, object_name: str, record_id: str, version: str, fields: str | None = None
    ) -> dict[str, Any]:
        otype = self._type(api, object_name)
        row = _Source(self, org, api).get(otype.name, record_id)
        if row is None:
            raise ApiError(404, "NOT_FOUND", NOT_FOUND_MESSAGE)
        if otype.name == "PackageInstallRequest":
            req = org.install_requests[str(row["Id"])]
            self._advance(org, req)
            row = self._install_request_row(req)
        names = [f.name for f in otype.fields]
        if fields:
            names = []
            for raw in fields.split(","):
                fdef = otype.field(raw.strip())
                if fdef is None:
                    raise ApiError(
                        400,
                        "INVALID_FIELD",
                        f"No such column '{raw.strip()}' on sobject of type {otype.name}",
                    )
                names.append(fdef.name)
        out: dict[str, Any] = {
            "attributes": {
                "type": otype.name,
                "url": f"{self._base_path(api, version)}/{otype.name}/{row['Id']}",
            }
        }
        out.update({name: row.get(name) for name in names})
        return out

    def update_record(self, org: Org, session: Session, object_name: str, record_id: str, body: Any) -> None:
        otype = self._type("rest", object_name)
        if not isinstance(body, dict):
            raise ApiError(
                400, "JSON_PARSER_ERROR", "The request body must be a JSON object of field values."
            )
        row = org.find(otype.name, record_id)
        if row is None:
            raise ApiError(404, "NOT_FOUND", NOT_FOUND_MESSAGE)
        changes: dict[str, Any] = {}
        locked: list[str] = []
        for key, value in body.items():
            if key == "attributes":
                continue
            fdef = otype.field(key)
            if fdef is None:
                raise ApiError(
                    400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {otype.name}"
                )
            if fdef.name not in UPDATABLE.get(otype.name, frozenset()):
                locked.append(fdef.name)
                continue
            if fdef.type == "boolean" and not isinstance(value, bool):
                raise ApiError(
                    400,
                    "JSON_PARSER_ERROR",
                    f"Cannot deserialize a boolean for field {fdef.name} from {value!r}.",
                )
            if fdef.type == "string" and value is not None and not isinstance(value, str):
                raise ApiError(
                    400,
                    "JSON_PARSER_ERROR",
                    f"Cannot deserialize a string for field {fdef.name} from {value!r}.",
                )
            changes[fdef.name] = value
        if locked:
            raise ApiError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(locked)}. They are read-only for this user.",
                locked,
            )
        flags = org.permissions(session.user_id)
        if (
            otype.name == "User"
            and not _same_id(row["Id"], session.user_id)
            and not flags["PermissionsManageUsers"]
        ):
            raise ApiError(400, "INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id")
        row.update(changes)
        if otype.name == "User" and ({"FirstName", "LastName"} & changes.keys()):
            row["Name"] = f"{row['FirstName'] or ''} {row['LastName']}".strip()
        when = now_stamp()
        row.update({"LastModifiedDate": when, "LastModifiedById": session.user_id, "SystemModstamp": when})

    def create_record(
        self, org: Org, session: Session, api: str, object_name: str, body: Any
    ) -> dict[str, Any]:
        otype = self._type(api, object_name)
        if otype.name != "PackageInstallRequest":
            raise ApiError(
                400, "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", f"entity type cannot be inserted: {otype.name}"
            )
        return {"id": self.create_install_request(org, session, body), "success": True, "errors": []}

    def create_install_request(self, org: Org, session: Session, body: Any) -> str:
        if not isinstance(body, dict):
            raise ApiError(
                400, "JSON_PARSER_ERROR", "The request body must be a JSON object of field values."
            )
        values: dict[str, Any] = {}
        locked: list[str] = []
        otype = TOOLING_TYPES["packageinstallrequest"]
        for key, value in body.items():
            if key == "attributes":
                continue
            canonical = INSTALL_REQUEST_WRITABLE.get(key.lower())
            if canonical is None:
                fdef = otype.field(key)
                if fdef is None:
                    raise ApiError(
                        400,
                        "INVALID_FIELD",
                        f"No such column '{key}' on sobject of type PackageInstallRequest",
                    )
                locked.append(fdef.name)
                continue
            values[canonical] = value
        if locked:
            raise ApiError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(locked)}. The fields are read-only.",
                locked,
            )
        key = values.get("SubscriberPackageVersionKey")
        if key is None or key == "":
            raise ApiError(
                400,
                "REQUIRED_FIELD_MISSING",
                "Required fields are missing: [SubscriberPackageVersionKey]",
                ["SubscriberPackageVersionKey"],
            )
        if not isinstance(key, str):
            raise ApiError(
                400,
                "JSON_PARSER_ERROR",
                f"Cannot deserialize a string for SubscriberPackageVersionKey from {key!r}.",
            )
        if not sfid.is_valid(key, "04t"):
            raise ApiError(
                400,
                "MALFORMED_ID",
                f"SubscriberPackageVersionKey: id value of incorrect type: {key}",
                ["SubscriberPackageVersionKey"],
            )
        if not _same_id(key, PACKAGE_VERSION_ID):
            raise ApiError(
                400,
                "INVALID_CROSS_REFERENCE_KEY",
                f"SubscriberPackageVersionKey: no package version {key} is available to this organization",
                ["SubscriberPackageVersionKey"],
            )
        for name in ("EnableRss",):
            if name in values and not isinstance(values[name], bool):
                raise ApiError(
                    400,
                    "JSON_PARSER_ERROR",
                    f"Cannot deserialize a boolean for {name} from {values[name]!r}.",
                )
        for name, allowed in PICKLISTS.items():
            if name not in values or values[name] is None:
                continue
            raw = values[name]
            match = next((a for a in allowed if isinstance(raw, str) and a.lower() == raw.lower()), None)
            if match is None:
                raise ApiError(
                    400,
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{name}: bad value for restricted picklist field: {raw}",
                    [name],
                )
            values[name] = match
        if not org.permissions(session.user_id)["PermissionsInstallPackaging"]:
            raise ApiError(
                400,
                "INSUFFICIENT_ACCESS_OR_READONLY",
                "Installing packages needs the Download AppExchange Packages permission.",
            )
        when = now_stamp()
        req = InstallRequest(
            record_id=org.mint("0Hf"),
            version_key=PACKAGE_VERSION_ID,
            security_type=values.get("SecurityType") or "None",
            enable_rss=bool(values.get("EnableRss", False)),
            name_conflict=values.get("NameConflictResolution") or "Block",
            created_by=session.user_id,
            password=values.get("Password"),
            upgrade_type=values.get("UpgradeType"),
            apex_compile_type=values.get("ApexCompileType"),
            created=when,
            modified=when,
        )
        org.install_requests[req.record_id] = req
        return req.record_id

    def limits(self, org: Org) -> dict[str, Any]:
        remaining = max(0, DAILY_API_REQUESTS - org.api_used)
        return {
            "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
            "DailyApiRequests": {"Max": DAILY_API_REQUESTS, "Remaining": remaining},
            "DailyAsyncApexExecutions": {"Max": 250000, "Remaining": 250000},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DailyStreamingApiEvents": {"Max": 1000000, "Remaining": 1000000},
            "DataStorageMB": {"Max": 1024, "Remaining": 1019},
            "FileStorageMB": {"Max": 1024, "Remaining": 1024},
            "HourlyODataCallout": {"Max": 10000, "Remaining": 10000},
            "SingleEmail": {"Max": 5000, "Remaining": 5000},
        }

    def chatter_me(self, org: Org, session: Session, version: str) -> dict[str, Any]:
        user = org.find("User", session.user_id) or org.user
        return {
            "aboutMe": None,
            "additionalLabel": None,
            "communityNickname": user["Alias"],
            "companyName": org.tables["Organization"][0]["Name"],
            "displayName": user["Name"],
            "email": user["Email"],
            "firstName": user["FirstName"],
            "id": user["Id"],
            "isActive": user["IsActive"],
            "isInThisCommunity": True,
            "lastName": user["LastName"],
            "managerId": None,
            "managerName": None,
            "name": user["Name"],
            "title": None,
            "type": "User",
            "url": f"/services/data/v{version}/chatter/users/{user['Id']}",
            "userType": "Internal",
            "username": user["Username"],
        }

    # ----- Metadata API ---------------------------------------------------------------------
    @staticmethod
    def require_metadata_access(org: Org, session: Session) -> None:
        flags = org.permissions(session.user_id)
        if not flags["PermissionsModifyAllData"]:
            raise MetadataFault(
                "INSUFFICIENT_ACCESS",
                "use of the Metadata API requires a user with the ModifyAllData or ModifyMetadata "
                "permissions",
            )

    @staticmethod
    def _check_type(metadata_type: str | None) -> None:
        if metadata_type != "RemoteSiteSetting":
            raise MetadataFault(
                "INVALID_TYPE",
                f"The lsqsf sandbox emulates only the RemoteSiteSetting metadata type, not {metadata_type!r}",
            )

    @staticmethod
    def _check_count(n: int) -> None:
        if n > MAX_METADATA_COMPONENTS:
            raise MetadataFault(
                "LIMIT_EXCEEDED",
                f"At most {MAX_METADATA_COMPONENTS} components may be sent in one call; got {n}",
            )

    def read_metadata(
        self, org: Org, metadata_type: str | None, full_names: Sequence[str]
    ) -> list[RemoteSite | None]:
        self._check_type(metadata_type)
        self._check_count(len(full_names))
        return [org.remote_sites.get(name.strip().lower()) for name in full_names]

    @staticmethod
    def _validate_site(item: Mapping[str, Any]) -> list[tuple[str, str, list[str]]]:
        name = item.get("fullName") or ""
        errors: list[tuple[str, str, list[str]]] = []
        if not name:
            return [("REQUIRED_FIELD_MISSING", "Required field is missing: fullName", ["fullName"])]
        if len(name) > 40:
            errors.append(
                ("STRING_TOO_LONG", f"Remote Site Name: at most 40 characters, not {len(name)}", ["fullName"])
            )
        elif not _SITE_NAME.match(name) or "__" in name or name.endswith("_"):
            errors.append(
                (
                    "FIELD_INTEGRITY_EXCEPTION",
                    "Remote Site Name: use only letters, digits and single underscores; start with a letter "
                    "and do not end with an underscore.",
                    ["fullName"],
                )
            )
        url = item.get("url")
        if not url:
            errors.append(("REQUIRED_FIELD_MISSING", "Required field is missing: url", ["url"]))
        else:
            parts = urlsplit(str(url))
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or any(c.isspace() for c in str(url))
            ):
                errors.append(
                    (
                        "FIELD_INTEGRITY_EXCEPTION",
                        f"Remote Site URL: {url!r} is not an absolute http(s) URL with a host.",
                        ["url"],
                    )
                )
        return errors

    def save_metadata(
        self, org: Org, operation: str, metadata_type: str | None, items: Sequence[Mapping[str, Any]]
    ) -> list[SaveOutcome]:
        """createMetadata / updateMetadata / upsertMetadata of RemoteSiteSetting components."""
        self._check_type(metadata_type)
        self._check_count(len(items))
        out: list[SaveOutcome] = []
        for item in items:
            name = str(item.get("fullName") or "")
            errors = self._validate_site(item)
            existing = org.remote_sites.get(name.lower()) if name else None
            if not errors and operation == "create" and existing is not None:
                errors.append(
                    (
                        "DUPLICATE_DEVELOPER_NAME",
                        f"A remote site named {existing.full_name} already exists; choose another name.",
                        ["fullName"],
                    )
                )
            if not errors and operation == "update" and existing is None:
                errors.append(
                    (
                        "INVALID_CROSS_REFERENCE_KEY",
                        f"In field: fullName - no RemoteSiteSetting named {name} found",
                        [],
                    )
                )
            if errors:
                out.append(SaveOutcome(name, False, False, errors))
                continue
            when = now_stamp()
            url = str(item["url"])
            is_active = bool(item.get("isActive") or False)
            disable_protocol_security = bool(item.get("disableProtocolSecurity") or False)
            description = item.get("description")
            if existing is None:
                org.remote_sites[name.lower()] = RemoteSite(
                    org.mint("0rp"),
                    name,
                    url,
                    is_active,
                    disable_protocol_security,
                    description,
                    None,
                    when,
                    when,
                )
                out.append(SaveOutcome(name, True, True))
            else:
                existing.url, existing.is_active = url, is_active
                existing.disable_protocol_security, existing.description = (
                    disable_protocol_security,
                    description,
                )
                existing.modified = when
                out.append(SaveOutcome(existing.full_name, True, False))
        return out

    def delete_metadata(
        self, org: Org, metadata_type: str | None, full_names: Sequence[str]
    ) -> list[SaveOutcome]:
        self._check_type(metadata_type)
        self._check_count(len(full_names))
        out: list[SaveOutcome] = []
        for name in full_names:
            site = org.remote_sites.get(name.strip().lower())
            if site is None or site.namespace:
                out.append(
                    SaveOutcome(
                        name,
                        False,
                        errors=[
                            (
                                "INVALID_CROSS_REFERENCE_KEY",
                                f"In field: fullName - no RemoteSiteSetting named {name} found",
                                [],
                            )
                        ],
                    )
                )
                continue
            del org.remote_sites[name.strip().lower()]
            out.append(SaveOutcome(site.full_name, True))
        return out
