"""The one typed, validated description of an org: what the runbook needs to know before it calls anything.

Three front ends feed it: the org file (YAML, one org or ``orgs:`` with a list), the notebook's
flattened papermill parameters (`from_flat` / `to_flat`), and the widget form. All of them end in
`parse_org`, so every rule lives here once.

A ``sandbox_scenario`` org is a practice org of the embedded sandbox, which lends it credentials:
there, every credential, the Salesforce ``login`` and the LeadSquared region/host may be left out
(`SalesforceParams.login_given` / `LeadSquaredParams.host_given` say whether they were given).

Validation is pure: no network, no secret resolution (secret fields become `SecretRef`s through
`secrets.parse_ref`). An error names the field as a dotted path (``orgs[2].salesforce.login``), or
the flat parameter name (``sf_login``) for notebook parameters, and says what is expected. A secret
field's value is never quoted back, and unknown keys are refused with the closest valid name, so a
typo such as ``pasword`` cannot make a setting silently disappear.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from lsqsf_helpers import lsq_regions, origins, sfid
from lsqsf_helpers.errors import ValidationError
from lsqsf_helpers.secrets import SecretRef, kind_of, parse_ref

# --------------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------------

AUTH_MODES: Final = ("password", "access_token", "jwt", "client_credentials")
LOGIN_KEYWORDS: Final = ("production", "sandbox")
DEFAULT_PACKAGE_NAME: Final = "LeadSquared Connector"
DEFAULT_REMOTE_SITE_NAME: Final = "LSQConnectorURL"

# Which credential fields each auth mode needs (and may have); any other credential field is refused.
AUTH_REQUIRED: Final[Mapping[str, tuple[str, ...]]] = {
    "password": ("username", "password"),
    "access_token": ("access_token", "instance_url"),
    "jwt": ("username", "consumer_key", "private_key"),
    "client_credentials": ("consumer_key", "consumer_secret"),
}
AUTH_OPTIONAL: Final[Mapping[str, tuple[str, ...]]] = {"password": ("security_token",)}

_CREDENTIAL_KEYS = (
    "username",
    "password",
    "security_token",
    "access_token",
    "instance_url",
    "consumer_key",
    "consumer_secret",
    "private_key",
)
_SECRET_SF_KEYS = frozenset({"password", "security_token", "access_token", "consumer_secret", "private_key"})
_ORG_KEYS = ("org", "salesforce", "leadsquared", "connector", "sandbox_scenario")
_SALESFORCE_KEYS = ("login", "auth", *_CREDENTIAL_KEYS, "api_version")
_LEADSQUARED_KEYS = ("region", "host", "access_key", "secret_key")
_CONNECTOR_KEYS = (
    "package_version_id",
    "namespace",
    "package_name",
    "remote_site_name",
    "page_url",
    "connector_authenticated",
)

_LABEL = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_RESERVED_FOLDER_NAMES = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
)
_USERNAME = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_USERNAME_MAX = 80  # Salesforce's limit for User.Username
_DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# My Domain login hosts: production, enhanced-domain sandboxes and the other partitioned org types.
_MY_DOMAIN = re.compile(
    rf"^(?P<name>{_DNS_LABEL})(?:\.(?:sandbox|develop|scratch|demo|patch|trailblaze))?\.my\.salesforce\.com$"
)
_INSTANCE_HOST = re.compile(rf"^(?:{_DNS_LABEL}\.)+(?:salesforce|force)\.com$")
_HOST_CHARS = re.compile(r"^[a-z0-9.-]+$")
_API_VERSION = re.compile(r"^\d{2}\.0$")
_CONSUMER_KEY = re.compile(r"^[A-Za-z0-9._-]{1,256}$")
_SCENARIO = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_PACKAGE_NAME_MAX = 255
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})

_Namer = Callable[[str], str]


# --------------------------------------------------------------------------------------------------
# Typed parameters
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SalesforceParams:
    """How to log in to the org. `login` is "production", "sandbox" or a normalised ``https://host``."""

    login: str
    auth: str
    username: str | None = None
    password: SecretRef | None = None
    security_token: SecretRef | None = None
    access_token: SecretRef | None = None
    instance_url: str | None = None
    consumer_key: str | None = None
    consumer_secret: SecretRef | None = None
    private_key: SecretRef | None = None
    api_version: str | None = None
    login_given: bool = True
    """False only for a sandbox practice org whose file left `login` out: the sandbox supplies it."""

    @property
    def is_my_domain(self) -> bool:
        """True when `login` is the org's My Domain URL rather than the generic login host."""
        return self.login.startswith("https://")

    @property
    def login_host(self) -> str:
        """The host to log in at: login.salesforce.com, test.salesforce.com or the My Domain host."""
        if self.login == "production":
            return "login.salesforce.com"
        if self.login == "sandbox":
            return "test.salesforce.com"
        return self.login.removeprefix("https://")

    @property
    def login_domain(self) -> str:
        """What simple-salesforce's ``domain=`` wants: "login", "test", "acme.my", "acme--uat.sandbox.my"."""
        return self.login_host.removesuffix(".salesforce.com")

    @property
    def is_sandbox(self) -> bool:
        """True for a sandbox org as far as the login tells (install links differ for sandboxes)."""
        return self.login == "sandbox" or ".sandbox.my.salesforce.com" in self.login


@dataclass(frozen=True)
class LeadSquaredParams:
    """The LeadSquared account: its regional API host and references to its API keys."""

    region: str
    host: str
    access_key: SecretRef | None = None
    secret_key: SecretRef | None = None
    host_given: bool = True
    """False only for a sandbox practice org whose file gave neither region nor host (the sandbox decides)."""

    @property
    def api_host(self) -> str:
        """The regional API host every LeadSquared call goes to (keys work on their own region only)."""
        return self.host

    @property
    def base_url(self) -> str:
        return f"https://{self.host}/v2/"


@dataclass(frozen=True)
class ConnectorParams:
    """What identifies the connector package in the org and the settings it needs."""

    package_version_id: str
    namespace: str
    package_name: str = DEFAULT_PACKAGE_NAME
    remote_site_name: str = DEFAULT_REMOTE_SITE_NAME
    page_url: str | None = None
    connector_authenticated: bool = False


@dataclass(frozen=True)
class OrgParams:
    """One org to check (and possibly fix): the validated contents of one org-file entry."""

    label: str
    salesforce: SalesforceParams
    leadsquared: LeadSquaredParams
    connector: ConnectorParams
    sandbox_scenario: str | None = None

    @property
    def is_sandbox_run(self) -> bool:
        """True when this org is a practice org of the embedded sandbox."""
        return self.sandbox_scenario is not None

    def secret_refs(self) -> list[tuple[str, SecretRef]]:
        """(dotted field, reference) for every secret given, e.g. to check them all before running."""
        refs: list[tuple[str, SecretRef]] = []
        for key in sorted(_SECRET_SF_KEYS, key=_SALESFORCE_KEYS.index):
            ref = getattr(self.salesforce, key)
            if ref is not None:
                refs.append((f"salesforce.{key}", ref))
        for key in ("access_key", "secret_key"):
            ref = getattr(self.leadsquared, key)
            if ref is not None:
                refs.append((f"leadsquared.{key}", ref))
        return refs


# --------------------------------------------------------------------------------------------------
# Small reusable validators (each raises ValidationError naming `field`)
# --------------------------------------------------------------------------------------------------


def _text(value: object, field: str, what: str) -> str:
    """`value` as stripped text, or a ValidationError saying what was expected instead."""
    if not isinstance(value, str):
        hint = ' (quote it: "…")' if isinstance(value, int | float) and not isinstance(value, bool) else ""
        raise ValidationError(f"expected {what}, got {kind_of(value)}{hint}", field=field)
    text = value.strip()
    if not text:
        raise ValidationError(f"is empty; expected {what}", field=field)
    return text


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; expected one of: {', '.join(choices)}"


def validate_label(value: object, field: str = "org") -> str:
    """An org label: used as a folder name, so lower case letters, digits, - and _ only (max 63)."""
    text = _text(value, field, "an org label such as 'acme-prod'")
    if _LABEL.match(text) and text not in _RESERVED_FOLDER_NAMES:
        return text
    if "/" in text or "\\" in text:
        problem = "must not contain / or \\ (it becomes a folder name)"
    elif text != text.lower() and _LABEL.match(text.lower()):
        problem = f"must be lower case (it becomes a folder name): use {text.lower()!r}"
    elif text in _RESERVED_FOLDER_NAMES:
        problem = "is a reserved device name on Windows and cannot be a folder name"
    elif len(text) > 63:
        problem = f"is {len(text)} characters long; at most 63"
    else:
        problem = (
            "may contain only lower-case letters, digits, - and _, and must start with a letter or digit"
        )
    raise ValidationError(f"{text!r} {problem}", field=field)


def validate_username(value: object, field: str = "salesforce.username") -> str:
    """A Salesforce username: email-shaped (it need not be a real mailbox, e.g. admin@acme.com.uat)."""
    text = _text(value, field, "a Salesforce username such as admin@acme.com")
    if len(text) > _USERNAME_MAX:
        raise ValidationError(
            f"is {len(text)} characters long; Salesforce usernames have at most 80", field=field
        )
    if not _USERNAME.match(text):
        raise ValidationError(
            f"{text!r} is not a Salesforce username: it must look like an email address (name@company.com)",
            field=field,
        )
    return text


def _api_name(value: object, field: str, what: str, example: str, max_len: int) -> str:
    """Salesforce developer-name rules shared by namespaces and metadata full names."""
    text = _text(value, field, f"{what} such as {example!r}")
    bad = sorted({ch for ch in text if not (ch.isascii() and (ch.isalnum() or ch == "_"))})
    if len(text) > max_len:
        problem = f"is {len(text)} characters long; a {what} has at most {max_len}"
    elif bad:
        shown = ", ".join(repr(ch) for ch in bad)
        problem = f"contains {shown}; a {what} may contain only letters, digits and _"
    elif not text[0].isalpha():
        problem = f"must start with a letter (a {what})"
    elif "__" in text:
        problem = "must not contain two underscores in a row (__)"
    elif text.endswith("_"):
        problem = "must not end with _"
    else:
        return text
    raise ValidationError(f"{text!r} {problem}", field=field)


def validate_remote_site_name(value: object, field: str = "connector.remote_site_name") -> str:
    """A RemoteSiteSetting full name: letters, digits, _; a letter first; no __, no trailing _; max 40."""
    return _api_name(value, field, "remote site name", DEFAULT_REMOTE_SITE_NAME, 40)


def validate_namespace(value: object, field: str = "connector.namespace") -> str:
    """A namespace prefix: letters, digits, _; starts with a letter; no __, no trailing _; max 15."""
    return _api_name(value, field, "namespace prefix", "lsqfake", 15)


def validate_package_version_id(value: object, field: str = "connector.package_version_id") -> str:
    """A 04t package version id (15 or 18 characters, checksum verified), returned in 18-character form."""
    text = _text(value, field, "a package version id (15 or 18 characters, starting with 04t)")
    if len(text) not in (15, 18):
        raise ValidationError(
            f"is {len(text)} characters long; a Salesforce id has 15 or 18 (e.g. 04t5g000000XXXXAAA)",
            field=field,
        )
    if not text.isascii() or not text.isalnum():
        raise ValidationError(f"{text!r} may contain only letters and digits", field=field)
    if text[:3] != "04t":
        hint = (
            " (033 is the package id; the install needs the package *version* id)"
            if text[:3] == "033"
            else ""
        )
        raise ValidationError(
            f"{text!r} starts with {text[:3]!r}; a package version id starts with 04t{hint}", field=field
        )
    if not sfid.is_valid(text, "04t"):
        raise ValidationError(
            f"{text!r} has a wrong checksum (its last 3 characters): "
            "a character was mistyped or its case changed",
            field=field,
        )
    return sfid.to18(text)


def _https_origin(value: object, field: str, what: str) -> str:
    """The lower-case host of an ``https://host[/]`` URL; nothing else (user info, port, path) is accepted."""
    text = _text(value, field, what)
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise ValidationError(f"{text!r} must not contain spaces or control characters", field=field)
    if not text.isascii():  # else urlsplit's lower() folds look-alikes such as the Kelvin sign into ASCII
        raise ValidationError(
            f"{text!r} must be plain ASCII (look-alike characters are refused); expected {what}", field=field
        )
    if text.lower().startswith("http://"):
        raise ValidationError(f"{text!r} uses http://; only https:// is accepted", field=field)
    parts = origins.split_url(text, field)
    if parts.scheme.lower() != "https" or not text.lower().startswith("https://"):
        raise ValidationError(f"{text!r} is not an https:// URL; expected {what}", field=field)
    if "@" in parts.netloc:
        raise ValidationError(
            f"{text!r} must not contain user info (user@host); expected {what}", field=field
        )
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None or parts.netloc.endswith(":"):
        raise ValidationError(f"{text!r} must not name a port; expected {what}", field=field)
    if parts.path not in ("", "/") or parts.query or parts.fragment or "?" in text or "#" in text:
        raise ValidationError(
            f"{text!r} must be only scheme and host, without a path; expected {what}", field=field
        )
    host = (parts.hostname or "").lower()
    if not host or not _HOST_CHARS.match(host):
        raise ValidationError(f"{text!r} has no valid host name; expected {what}", field=field)
    return host


def validate_login(value: object, field: str = "salesforce.login") -> str:
    """``production``, ``sandbox``, or a My Domain URL normalised to ``https://host`` (lower case).

    The login host receives the password, so only genuine Salesforce My Domain hosts are accepted:
    http://, user info, ports, paths and lookalike hosts (``acme.my.salesforce.com.evil.example``)
    are refused.
    """
    what = "production, sandbox or https://<mydomain>.my.salesforce.com"
    text = _text(value, field, what)
    if text.lower() in LOGIN_KEYWORDS:
        return text.lower()
    if "://" not in text:
        hint = f" (write it as https://{text.lower()})" if text.lower().endswith(".my.salesforce.com") else ""
        raise ValidationError(f"{text!r} is not one of: {what}{hint}", field=field)
    host = _https_origin(text, field, what)
    if host == "login.salesforce.com":
        return "production"
    if host == "test.salesforce.com":
        return "sandbox"
    if _MY_DOMAIN.match(host):
        return f"https://{host}"
    hint = ""
    if host.endswith(".lightning.force.com"):
        guess = host.removesuffix(".lightning.force.com") + ".my.salesforce.com"
        if _MY_DOMAIN.match(guess):
            hint = f" (that is the Lightning UI host; the login URL is https://{guess})"
    raise ValidationError(
        f"{host!r} is not a Salesforce My Domain host; expected <mydomain>.my.salesforce.com or "
        f"<mydomain>--<sandbox>.sandbox.my.salesforce.com{hint}",
        field=field,
    )


def validate_instance_url(value: object, field: str = "salesforce.instance_url") -> str:
    """An org's instance URL (https, a *.salesforce.com or *.force.com host), normalised to ``https://host``."""
    what = "https://<instance>.salesforce.com (e.g. https://acme.my.salesforce.com)"
    host = _https_origin(value, field, what)
    if not _INSTANCE_HOST.match(host):
        raise ValidationError(f"{host!r} is not a Salesforce host; expected {what}", field=field)
    return f"https://{host}"


def validate_region(value: object, field: str = "leadsquared.region") -> str:
    """A LeadSquared region code from `lsq_regions.REGIONS` (sg, us11, in21, ...)."""
    codes = tuple(lsq_regions.REGIONS)
    text = _text(value, field, f"a LeadSquared region ({', '.join(codes)})").lower()
    if text in lsq_regions.REGIONS:
        return text
    if "." in text:
        raise ValidationError(
            f"{text!r} looks like a host name; give it as host:, or use a region code", field=field
        )
    raise ValidationError(f"unknown LeadSquared region {text!r}{_suggest(text, codes)}", field=field)


def validate_lsq_host(value: object, field: str = "leadsquared.host") -> str:
    """A documented LeadSquared API host (bare, or as ``https://host``), returned as the bare lower-case host.

    The host receives the API keys, so only the hosts LeadSquared documents are accepted.
    """
    what = "a LeadSquared API host such as api-us11.leadsquared.com"
    text = _text(value, field, what)
    lowered = text.lower()
    if lowered.startswith("http://"):
        raise ValidationError(f"{text!r} uses http://; LeadSquared is reached over https only", field=field)
    host = _https_origin(text if "://" in text else f"https://{text}", field, what)
    region = lsq_regions.region_for_host(host)
    if region is not None and region.host == host:
        return host
    known = ", ".join(lsq_regions.HOSTS)
    if lsq_regions.API_HOST_PATTERN.match(host):
        problem = f"{host!r} is not a documented LeadSquared API host"
    else:
        problem = f"{host!r} is not a LeadSquared API host"
    raise ValidationError(
        f"{problem}; expected one of: {known}", field=field, remedy="or give region: instead"
    )


def validate_api_version(value: object, field: str = "salesforce.api_version") -> str:
    """A Salesforce API version such as "59.0" (YAML's float 59.0 and int 59 are accepted too)."""
    if isinstance(value, bool):
        raise ValidationError('expected an API version such as "59.0", got a boolean', field=field)
    if isinstance(value, int):
        text = f"{value}.0"
    elif isinstance(value, float):
        text = repr(value)
    else:
        text = _text(value, field, 'an API version such as "59.0"')
    if text[:1] in ("v", "V"):
        raise ValidationError(f'{text!r}: give the version without the leading v, e.g. "59.0"', field=field)
    if not _API_VERSION.match(text):
        raise ValidationError(
            f'{text!r} is not an API version; expected two digits and .0, e.g. "59.0"', field=field
        )
    return text


def validate_consumer_key(value: object, field: str = "salesforce.consumer_key") -> str:
    """A connected app's consumer key (client id): not a secret, but it must be one unbroken token."""
    text = _text(value, field, "a connected app consumer key (3MVG…)")
    if not _CONSUMER_KEY.match(text):
        raise ValidationError(
            "is not a consumer key: expected up to 256 letters, digits, '.', '_' or '-' "
            "(copy it from the connected app)",
            field=field,
        )
    return text


def validate_page_url(value: object, field: str = "connector.page_url") -> str:
    """The connector's Configure page URL as the admin copied it: kept as given, but https, a real URL,
    and on Salesforce's Visualforce domains (lookalike hosts, user info and ports are refused)."""
    text = _text(value, field, "the https:// URL of the connector's Configure page")
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise ValidationError(f"{text!r} must not contain spaces or control characters", field=field)
    if text.lower().startswith("http://"):
        raise ValidationError(
            f"{text!r} uses http://; the connector page is served over https://", field=field
        )
    parts = origins.split_url(text, field)
    try:
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        raise ValidationError(f"{text!r} has an invalid port", field=field) from None
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise ValidationError(f"{text!r} is not an https:// URL with a host", field=field)
    # The page's origin becomes a remote site (an allowed callout target): refuse any host outside
    # Salesforce's Visualforce domains now, before anything runs, not only when the step uses it.
    origins.normalise_origin(text, field=field)
    return text


def validate_package_name(value: object, field: str = "connector.package_name") -> str:
    """The installed package's name as Salesforce shows it (used to find the package by name)."""
    text = _text(value, field, f"a package name such as {DEFAULT_PACKAGE_NAME!r}")
    if len(text) > _PACKAGE_NAME_MAX or not text.isprintable():
        raise ValidationError("must be printable text of at most 255 characters", field=field)
    return text


def validate_sandbox_scenario(value: object, field: str = "sandbox_scenario") -> str:
    """A sandbox scenario name (which ones exist is the sandbox's business; here only the shape)."""
    text = _text(value, field, "a sandbox scenario name such as 'ready'")
    if not _SCENARIO.match(text):
        raise ValidationError(
            f"{text!r} is not a scenario name: lower-case letters, digits, - and _, starting with a letter",
            field=field,
        )
    return text


def _boolean(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValidationError(f"expected true or false, got {kind_of(value)}", field=field)


def _choice(value: object, field: str, choices: Sequence[str]) -> str:
    text = _text(value, field, f"one of: {', '.join(choices)}").lower()
    if text in choices:
        return text
    raise ValidationError(f"{text!r} is not valid{_suggest(text, choices)}", field=field)


# --------------------------------------------------------------------------------------------------
# Nested (org file) parsing
# --------------------------------------------------------------------------------------------------


def _given(section: Mapping[str, object], key: str) -> object | None:
    """The value of `key`, with absent, null and empty text all meaning "not given"."""
    value = section.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


def _check_keys(mapping: Mapping[Any, object], allowed: Sequence[str], path: str, name: _Namer) -> None:
    for key in mapping:
        if not isinstance(key, str):
            raise ValidationError(
                f"keys must be text, got {kind_of(key)}", field=name(path) if path else name("")
            )
        if key not in allowed:
            full = f"{path}.{key}" if path else key
            raise ValidationError(f"unknown key{_suggest(key, allowed)}", field=name(full))


def _section(org: Mapping[str, object], key: str, name: _Namer) -> Mapping[str, object]:
    value = org.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(f"expected a mapping of {key} settings, got {kind_of(value)}", field=name(key))
    return value


def _required(what: str, field: str) -> ValidationError:
    return ValidationError(f"is required: {what}", field=field)


def _parse_salesforce(org: Mapping[str, object], name: _Namer, sandbox: bool) -> SalesforceParams:
    section = _section(org, "salesforce", name)
    _check_keys(section, _SALESFORCE_KEYS, "salesforce", name)

    def field(key: str) -> str:
        return name(f"salesforce.{key}")

    login_raw = _given(section, "login")
    if login_raw is None and not sandbox:
        raise _required("production, sandbox or https://<mydomain>.my.salesforce.com", field("login"))
    login = "production" if login_raw is None else validate_login(login_raw, field("login"))

    auth_raw = _given(section, "auth")
    if auth_raw is None:
        if not sandbox:
            raise _required(f"one of {', '.join(AUTH_MODES)}", field("auth"))
        auth = "password"
    else:
        auth = _choice(auth_raw, field("auth"), AUTH_MODES)

    if auth == "client_credentials" and login_raw is not None and not login.startswith("https://"):
        raise ValidationError(
            f"auth client_credentials needs the org's My Domain URL (https://<mydomain>.my.salesforce.com), "
            f"not {login!r}: Salesforce accepts this flow only on My Domain hosts",
            field=field("login"),
        )

    allowed = (*AUTH_REQUIRED[auth], *AUTH_OPTIONAL.get(auth, ()))
    for key in _CREDENTIAL_KEYS:
        if key not in allowed and _given(section, key) is not None:
            owners = [m for m in AUTH_MODES if key in (*AUTH_REQUIRED[m], *AUTH_OPTIONAL.get(m, ()))]
            raise ValidationError(
                f"is not used with auth {auth!r} "
                f"(it belongs to auth {' or '.join(repr(m) for m in owners)}); "
                "remove it, or change auth",
                field=field(key),
            )
    if not sandbox:
        for key in AUTH_REQUIRED[auth]:
            if _given(section, key) is None:
                raise _required(f"auth {auth!r} needs {', '.join(AUTH_REQUIRED[auth])}", field(key))

    def secret(key: str) -> SecretRef | None:
        raw = _given(section, key)
        return None if raw is None else parse_ref(raw, field(key))

    def plain(key: str, check: Callable[[object, str], str]) -> str | None:
        raw = _given(section, key)
        return None if raw is None else check(raw, field(key))

    api_version_raw = _given(section, "api_version")
    return SalesforceParams(
        login=login,
        auth=auth,
        username=plain("username", validate_username),
        password=secret("password"),
        security_token=secret("security_token"),
        access_token=secret("access_token"),
        instance_url=plain("instance_url", validate_instance_url),
        consumer_key=plain("consumer_key", validate_consumer_key),
        consumer_secret=secret("consumer_secret"),
        private_key=secret("private_key"),
        api_version=None
        if api_version_raw is None
        else validate_api_version(api_version_raw, field("api_version")),
        login_given=login_raw is not None,
    )


def _parse_leadsquared(org: Mapping[str, object], name: _Namer, sandbox: bool) -> LeadSquaredParams:
    section = _section(org, "leadsquared", name)
    _check_keys(section, _LEADSQUARED_KEYS, "leadsquared", name)

    def field(key: str) -> str:
        return name(f"leadsquared.{key}")

    region_raw, host_raw = _given(section, "region"), _given(section, "host")
    if region_raw is not None and host_raw is not None:
        raise ValidationError("give either region or host, not both", field=field("host"))
    if region_raw is not None:
        region = validate_region(region_raw, field("region"))
        host = lsq_regions.REGIONS[region].host
    elif host_raw is not None:
        host = validate_lsq_host(host_raw, field("host"))
        found = lsq_regions.region_for_host(host)
        assert found is not None  # validate_lsq_host accepts documented hosts only
        region = found.code
    elif sandbox:
        region = "sg"  # placeholder: a sandbox practice org's own configured host is used instead
        host = lsq_regions.REGIONS[region].host
    else:
        raise _required(
            f"the account's region ({', '.join(lsq_regions.REGIONS)}) "
            "or its API host (e.g. api-us11.leadsquared.com)",
            field("region"),
        )

    keys: dict[str, SecretRef | None] = {}
    for key in ("access_key", "secret_key"):
        raw = _given(section, key)
        if raw is None:
            if not sandbox:
                raise _required(
                    "a reference to the LeadSquared API key (e.g. env:LSQ_ACCESS_KEY)", field(key)
                )
            keys[key] = None
        else:
            keys[key] = parse_ref(raw, field(key))
    return LeadSquaredParams(
        region=region,
        host=host,
        access_key=keys["access_key"],
        secret_key=keys["secret_key"],
        host_given=region_raw is not None or host_raw is not None,
    )


def _parse_connector(org: Mapping[str, object], name: _Namer) -> ConnectorParams:
    section = _section(org, "connector", name)
    _check_keys(section, _CONNECTOR_KEYS, "connector", name)

    def field(key: str) -> str:
        return name(f"connector.{key}")

    version_raw = _given(section, "package_version_id")
    if version_raw is None:
        raise _required("the connector's 04t package version id", field("package_version_id"))
    namespace_raw = _given(section, "namespace")
    if namespace_raw is None:
        raise _required("the connector's namespace prefix", field("namespace"))
    package_name_raw = _given(section, "package_name")
    site_raw = _given(section, "remote_site_name")
    page_raw = _given(section, "page_url")
    authenticated_raw = _given(section, "connector_authenticated")
    return ConnectorParams(
        package_version_id=validate_package_version_id(version_raw, field("package_version_id")),
        namespace=validate_namespace(namespace_raw, field("namespace")),
        package_name=(
            DEFAULT_PACKAGE_NAME
            if package_name_raw is None
            else validate_package_name(package_name_raw, field("package_name"))
        ),
        remote_site_name=(
            DEFAULT_REMOTE_SITE_NAME
            if site_raw is None
            else validate_remote_site_name(site_raw, field("remote_site_name"))
        ),
        page_url=None if page_raw is None else validate_page_url(page_raw, field("page_url")),
        connector_authenticated=(
            False
            if authenticated_raw is None
            else _boolean(authenticated_raw, field("connector_authenticated"))
        ),
    )


def _parse(org: object, name: _Namer, where: str) -> OrgParams:
    if not isinstance(org, Mapping):
        raise ValidationError(
            f"expected a mapping with org, salesforce, leadsquared and connector; got {kind_of(org)}",
            field=where,
        )
    _check_keys(org, _ORG_KEYS, "", name)
    label_raw = _given(org, "org")
    if label_raw is None:
        raise _required("a label for this org such as 'acme-prod' (it names its output folder)", name("org"))
    label = validate_label(label_raw, name("org"))
    scenario_raw = _given(org, "sandbox_scenario")
    scenario = (
        None if scenario_raw is None else validate_sandbox_scenario(scenario_raw, name("sandbox_scenario"))
    )
    sandbox = scenario is not None
    return OrgParams(
        label=label,
        salesforce=_parse_salesforce(org, name, sandbox),
        leadsquared=_parse_leadsquared(org, name, sandbox),
        connector=_parse_connector(org, name),
        sandbox_scenario=scenario,
    )


def parse_org(mapping: object, where: str = "") -> OrgParams:
    """Validate one org's mapping. `where` prefixes every field name (e.g. "orgs[2]")."""

    def name(path: str) -> str:
        if not where:
            return path
        return f"{where}.{path}" if path else where

    return _parse(mapping, name, where)


def parse_orgs(doc: object) -> list[OrgParams]:
    """Validate a whole org-file document: one org, or ``orgs:`` with a non-empty list of them."""
    if doc is None:
        raise ValidationError("the org file is empty; expected one org, or orgs: with a list of orgs")
    if not isinstance(doc, Mapping):
        raise ValidationError(
            f"the top level must be a mapping (one org, or orgs: with a list), not {kind_of(doc)}"
        )
    if "orgs" not in doc:
        return [parse_org(doc)]
    others = [str(key) for key in doc if key != "orgs"]
    if others:
        raise ValidationError(
            "next to orgs: no other top-level keys are allowed; put each org's settings in the list",
            field=others[0],
        )
    items = doc["orgs"]
    if not isinstance(items, list) or not items:
        got = "an empty list" if isinstance(items, list) else kind_of(items)
        raise ValidationError(f"expected a non-empty list of orgs, got {got}", field="orgs")
    orgs: list[OrgParams] = []
    first_seen: dict[str, int] = {}
    for index, item in enumerate(items):
        org = parse_org(item, f"orgs[{index}]")
        if org.label in first_seen:
            raise ValidationError(
                f"label {org.label!r} is already used by orgs[{first_seen[org.label]}]; "
                "labels must be unique (each org gets its own output folder)",
                field=f"orgs[{index}].org",
            )
        first_seen[org.label] = index
        orgs.append(org)
    return orgs


class _StrictLoader(yaml.SafeLoader):
    """yaml.safe_load semantics plus one rule: a key given twice in one mapping is an error.

    (PyYAML silently keeps the last one, so a second ``password:`` would quietly win.)
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node)
            if not isinstance(key, Hashable):
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"found key {key!r} twice",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_error(path: Path, exc: yaml.YAMLError) -> ValidationError:
    """A message with line and column but without the source snippet PyYAML adds (it may show a secret)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "an unknown position"
        what = exc.problem or exc.context or "syntax error"
        context = f" ({exc.context})" if exc.context and exc.problem else ""
        return ValidationError(f"{path}: malformed YAML at {where}: {what}{context}")
    position = getattr(exc, "position", None)
    at = f" at character {position}" if isinstance(position, int) else ""
    return ValidationError(f"{path}: not readable as YAML{at} ({type(exc).__name__})")


def load_org_file(path: str | os.PathLike[str]) -> list[OrgParams]:
    """Read and validate an org file (YAML, loaded safely). Any problem is a ValidationError."""
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationError(f"org file {file} does not exist") from None
    except IsADirectoryError:
        raise ValidationError(f"org file {file} is a directory, not a file") from None
    except PermissionError:
        raise ValidationError(f"org file {file} cannot be read by this user") from None
    except UnicodeDecodeError:
        raise ValidationError(f"org file {file} is not UTF-8 text") from None
    except OSError as exc:
        raise ValidationError(f"org file {file} cannot be read: {exc.strerror}") from None
    try:
        doc = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        raise _yaml_error(file, exc) from None
    return parse_orgs(doc)


# --------------------------------------------------------------------------------------------------
# Flattened notebook parameters (papermill)
# --------------------------------------------------------------------------------------------------

_SECRET_HELP = "secret reference: env:NAME | file:PATH | keyring:SERVICE/USER | prompt"


@dataclass(frozen=True)
class FlatParameter:
    """One papermill parameter of the notebook: its name, Python type, one-line help and org-file path."""

    name: str
    type: type[str] | type[bool]
    help: str
    path: str
    secret: bool = False

    @property
    def default(self) -> str | bool:
        """The value meaning "not given": "" for text, False for the flag."""
        return False if self.type is bool else ""


FLAT_PARAMETERS: Final[tuple[FlatParameter, ...]] = (
    FlatParameter(
        "org", str, "org label: lower-case letters, digits, - and _ (names the output folder)", "org"
    ),
    FlatParameter(
        "sf_login", str, "production | sandbox | https://<mydomain>.my.salesforce.com", "salesforce.login"
    ),
    FlatParameter("sf_auth", str, "password | access_token | jwt | client_credentials", "salesforce.auth"),
    FlatParameter(
        "sf_username", str, "Salesforce username, e.g. admin@acme.com (password, jwt)", "salesforce.username"
    ),
    FlatParameter(
        "sf_password", str, f"Salesforce password (password); {_SECRET_HELP}", "salesforce.password", True
    ),
    FlatParameter(
        "sf_security_token",
        str,
        f"security token, optional (password); {_SECRET_HELP}",
        "salesforce.security_token",
        True,
    ),
    FlatParameter(
        "sf_access_token",
        str,
        f"session/access token (access_token); {_SECRET_HELP}",
        "salesforce.access_token",
        True,
    ),
    FlatParameter(
        "sf_instance_url", str, "https://<instance>.salesforce.com (access_token)", "salesforce.instance_url"
    ),
    FlatParameter(
        "sf_consumer_key",
        str,
        "connected app consumer key (jwt, client_credentials)",
        "salesforce.consumer_key",
    ),
    FlatParameter(
        "sf_consumer_secret",
        str,
        f"connected app consumer secret (client_credentials); {_SECRET_HELP}",
        "salesforce.consumer_secret",
        True,
    ),
    FlatParameter(
        "sf_private_key", str, f"JWT private key PEM (jwt); {_SECRET_HELP}", "salesforce.private_key", True
    ),
    FlatParameter(
        "sf_api_version",
        str,
        "Salesforce API version such as 59.0; empty for the default",
        "salesforce.api_version",
    ),
    FlatParameter(
        "lsq_region",
        str,
        f"LeadSquared region: {' | '.join(lsq_regions.REGIONS)} (or give lsq_host)",
        "leadsquared.region",
    ),
    FlatParameter(
        "lsq_host",
        str,
        "LeadSquared API host, e.g. api-us11.leadsquared.com (or give lsq_region)",
        "leadsquared.host",
    ),
    FlatParameter(
        "lsq_access_key", str, f"LeadSquared access key; {_SECRET_HELP}", "leadsquared.access_key", True
    ),
    FlatParameter(
        "lsq_secret_key", str, f"LeadSquared secret key; {_SECRET_HELP}", "leadsquared.secret_key", True
    ),
    FlatParameter(
        "connector_package_version_id",
        str,
        "connector package version id (04t…, 15 or 18 characters)",
        "connector.package_version_id",
    ),
    FlatParameter("connector_namespace", str, "connector namespace prefix", "connector.namespace"),
    FlatParameter(
        "connector_package_name",
        str,
        f"installed package name; empty for {DEFAULT_PACKAGE_NAME}",
        "connector.package_name",
    ),
    FlatParameter(
        "connector_remote_site_name",
        str,
        f"Remote Site Setting name; empty for {DEFAULT_REMOTE_SITE_NAME}",
        "connector.remote_site_name",
    ),
    FlatParameter(
        "connector_page_url",
        str,
        "optional: https URL of the connector's Configure page",
        "connector.page_url",
    ),
    FlatParameter(
        "connector_authenticated",
        bool,
        "True once the admin did Authenticate and Save on the connector's Authentication tab",
        "connector.connector_authenticated",
    ),
    FlatParameter(
        "sandbox_scenario",
        str,
        "optional: practice against this embedded sandbox scenario",
        "sandbox_scenario",
    ),
)

_FLAT_BY_NAME: Final = {p.name: p for p in FLAT_PARAMETERS}
_FLAT_BY_PATH: Final = {p.path: p.name for p in FLAT_PARAMETERS}
_FLAT_SECTIONS: Final = {"salesforce": "sf_*", "leadsquared": "lsq_*", "connector": "connector_*"}


def _flat_name(path: str) -> str:
    """The flat parameter carrying dotted `path` (errors from `from_flat` name the notebook's parameter)."""
    return _FLAT_BY_PATH.get(path) or _FLAT_SECTIONS.get(path) or path


def from_flat(params: Mapping[str, Any]) -> OrgParams:
    """Validate the notebook's flattened parameters; "" (or None) means "not given".

    Unknown names are refused with the closest valid one, like unknown keys in the org file.
    """
    names = tuple(_FLAT_BY_NAME)
    for key in params:
        if key not in _FLAT_BY_NAME:
            raise ValidationError(f"unknown parameter{_suggest(str(key), names)}", field=str(key))
    doc: dict[str, Any] = {}
    for parameter in FLAT_PARAMETERS:
        value = params.get(parameter.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        section, _, key = parameter.path.rpartition(".")
        target = doc.setdefault(section, {}) if section else doc
        target[key] = value
    return _parse(doc, _flat_name, "")


def to_flat(org: OrgParams) -> dict[str, Any]:
    """The notebook parameters for `org`, in `FLAT_PARAMETERS` order; secrets appear as references only."""
    sf, lsq, connector = org.salesforce, org.leadsquared, org.connector

    def text(value: object) -> str:
        return "" if value is None else str(value)

    values: dict[str, Any] = {
        "org": org.label,
        "sf_login": sf.login if sf.login_given else "",
        "sf_auth": sf.auth,
        "sf_username": text(sf.username),
        "sf_password": text(sf.password),
        "sf_security_token": text(sf.security_token),
        "sf_access_token": text(sf.access_token),
        "sf_instance_url": text(sf.instance_url),
        "sf_consumer_key": text(sf.consumer_key),
        "sf_consumer_secret": text(sf.consumer_secret),
        "sf_private_key": text(sf.private_key),
        "sf_api_version": text(sf.api_version),
        "lsq_region": lsq.region if lsq.host_given else "",
        "lsq_host": "",
        "lsq_access_key": text(lsq.access_key),
        "lsq_secret_key": text(lsq.secret_key),
        "connector_package_version_id": connector.package_version_id,
        "connector_namespace": connector.namespace,
        "connector_package_name": connector.package_name,
        "connector_remote_site_name": connector.remote_site_name,
        "connector_page_url": text(connector.page_url),
        "connector_authenticated": connector.connector_authenticated,
        "sandbox_scenario": text(org.sandbox_scenario),
    }
    return {parameter.name: values[parameter.name] for parameter in FLAT_PARAMETERS}
