"""The org schema: every bad input names its field, says what is expected and never echoes a secret."""

from __future__ import annotations

import copy
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lsqsf_helpers import params, sfid
from lsqsf_helpers.errors import SecretError, UsageError, ValidationError
from lsqsf_helpers.params import (
    FLAT_PARAMETERS,
    OrgParams,
    from_flat,
    load_org_file,
    parse_org,
    parse_orgs,
    to_flat,
    validate_login,
    validate_lsq_host,
    validate_package_version_id,
    validate_remote_site_name,
)
from lsqsf_helpers.secrets import SecretRef

ID15 = "04tFAKE0LSQ0001"
ID18 = ID15 + sfid.checksum(ID15)

BASE: dict[str, Any] = {
    "org": "acme-prod",
    "salesforce": {
        "login": "production",
        "auth": "password",
        "username": "admin@acme.com",
        "password": "env:SF_PASSWORD",
        "security_token": "env:SF_TOKEN",
    },
    "leadsquared": {"region": "us11", "access_key": "env:LSQ_ACCESS_KEY", "secret_key": "env:LSQ_SECRET_KEY"},
    "connector": {"package_version_id": ID18, "namespace": "lsqfake"},
}

JWT = {"login": "https://acme.my.salesforce.com", "auth": "jwt", "username": "admin@acme.com"}
JWT |= {"consumer_key": "3MVG9abc.DEF_123", "private_key": "file:~/.ssh/sf_jwt.pem"}
ACCESS_TOKEN = {"login": "sandbox", "auth": "access_token", "access_token": "env:SF_ACCESS_TOKEN"}
ACCESS_TOKEN |= {"instance_url": "https://acme--uat.sandbox.my.salesforce.com"}
CLIENT_CREDENTIALS = {"login": "https://acme.my.salesforce.com", "auth": "client_credentials"}
CLIENT_CREDENTIALS |= {"consumer_key": "3MVG9abc", "consumer_secret": "env:SF_CONSUMER_SECRET"}

_MISSING = object()


def doc_with(path: str, value: object = _MISSING, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """A deep copy of BASE with dotted `path` set to `value` (or removed when no value is given)."""
    doc = copy.deepcopy(BASE if base is None else base)
    *parents, last = path.split(".")
    target = doc
    for part in parents:
        target = target.setdefault(part, {})
    if value is _MISSING:
        target.pop(last, None)
    else:
        target[last] = value
    return doc


def refused(doc: object, where: str = "") -> UsageError:
    with pytest.raises(UsageError) as info:
        parse_org(doc, where)
    assert isinstance(info.value, ValidationError | SecretError)
    return info.value


# ---------------------------------------------------------------------------------------------- valid


def test_base_org_parses_to_typed_params() -> None:
    org = parse_org(BASE)
    assert org.label == "acme-prod"
    assert org.salesforce.password == SecretRef("env", "SF_PASSWORD")
    assert org.salesforce.login_domain == "login"
    assert not org.salesforce.is_my_domain
    assert org.leadsquared.api_host == "api-us11.leadsquared.com"
    assert org.connector.package_version_id == ID18
    assert org.connector.remote_site_name == "LSQConnectorURL"
    assert org.connector.package_name == "LeadSquared Connector"
    assert org.connector.connector_authenticated is False
    assert [field for field, _ in org.secret_refs()] == [
        "salesforce.password",
        "salesforce.security_token",
        "leadsquared.access_key",
        "leadsquared.secret_key",
    ]


@pytest.mark.parametrize("salesforce", [JWT, ACCESS_TOKEN, CLIENT_CREDENTIALS])
def test_each_auth_mode_parses(salesforce: dict[str, str]) -> None:
    org = parse_org(doc_with("salesforce", salesforce))
    assert org.salesforce.auth == salesforce["auth"]


def test_security_token_is_optional() -> None:
    assert parse_org(doc_with("salesforce.security_token")).salesforce.security_token is None


@pytest.mark.parametrize(
    ("login", "normalized", "domain"),
    [
        ("production", "production", "login"),
        ("Sandbox", "sandbox", "test"),
        ("https://ACME.my.salesforce.com/", "https://acme.my.salesforce.com", "acme.my"),
        (
            "https://acme--uat.sandbox.my.salesforce.com",
            "https://acme--uat.sandbox.my.salesforce.com",
            "acme--uat.sandbox.my",
        ),
        (
            "https://acme-dev-ed.develop.my.salesforce.com",
            "https://acme-dev-ed.develop.my.salesforce.com",
            "acme-dev-ed.develop.my",
        ),
        ("https://login.salesforce.com", "production", "login"),
        ("https://test.salesforce.com/", "sandbox", "test"),
    ],
)
def test_login_normalisation_and_domain(login: str, normalized: str, domain: str) -> None:
    assert validate_login(login) == normalized
    sf = parse_org(doc_with("salesforce.login", login)).salesforce
    assert sf.login == normalized
    assert sf.login_domain == domain
    assert sf.is_my_domain == normalized.startswith("https://")


def test_sandbox_login_is_marked_as_sandbox() -> None:
    assert parse_org(doc_with("salesforce.login", "sandbox")).salesforce.is_sandbox
    assert parse_org(
        doc_with("salesforce.login", "https://a--b.sandbox.my.salesforce.com")
    ).salesforce.is_sandbox
    assert not parse_org(BASE).salesforce.is_sandbox


@pytest.mark.parametrize(
    "host",
    ["api-us11.leadsquared.com", "https://api-us11.leadsquared.com", "HTTPS://API-US11.leadsquared.com/"],
)
def test_lsq_host_forms(host: str) -> None:
    assert validate_lsq_host(host) == "api-us11.leadsquared.com"
    doc = doc_with("leadsquared.region")
    doc["leadsquared"]["host"] = host
    lsq = parse_org(doc).leadsquared
    assert (lsq.region, lsq.api_host) == ("us11", "api-us11.leadsquared.com")


def test_region_is_case_folded() -> None:
    assert parse_org(doc_with("leadsquared.region", "IN21")).leadsquared.host == "api-in21.leadsquared.com"


@pytest.mark.parametrize(("given_", "expected"), [("59.0", "59.0"), (59.0, "59.0"), (61, "61.0")])
def test_api_version_forms(given_: object, expected: str) -> None:
    assert parse_org(doc_with("salesforce.api_version", given_)).salesforce.api_version == expected


def test_connector_optional_fields() -> None:
    doc = doc_with("connector.page_url", "https://acme--lsqfake.vf.force.com/apex/Configure?x=1")
    doc["connector"] |= {
        "connector_authenticated": True,
        "remote_site_name": "LSQ_Site2",
        "package_name": "LSQ",
    }
    connector = parse_org(doc).connector
    assert connector.page_url == "https://acme--lsqfake.vf.force.com/apex/Configure?x=1"
    assert connector.connector_authenticated is True
    assert connector.remote_site_name == "LSQ_Site2"
    assert connector.package_name == "LSQ"


def test_sandbox_scenario_lets_credentials_be_omitted() -> None:
    doc = {
        "org": "practice",
        "sandbox_scenario": "ready",
        "salesforce": {"login": "https://acme.my.salesforce.com"},
        "leadsquared": {"region": "sg"},
        "connector": {"package_version_id": ID15, "namespace": "lsqfake"},
    }
    org = parse_org(doc)
    assert org.is_sandbox_run
    assert org.salesforce.auth == "password"
    assert org.salesforce.username is None and org.salesforce.password is None
    assert org.leadsquared.access_key is None and org.leadsquared.secret_key is None
    assert org.secret_refs() == []


SANDBOX_MINIMAL: dict[str, Any] = {
    "org": "practice",
    "sandbox_scenario": "fresh",
    "connector": {"package_version_id": ID15, "namespace": "lsqfake"},
}


def test_sandbox_scenario_lets_login_and_region_be_omitted() -> None:
    org = parse_org(SANDBOX_MINIMAL)
    assert not org.salesforce.login_given
    assert not org.leadsquared.host_given
    assert org.salesforce.auth == "password"
    assert parse_org(BASE).salesforce.login_given and parse_org(BASE).leadsquared.host_given
    cc = parse_org({**SANDBOX_MINIMAL, "salesforce": {"auth": "client_credentials"}})
    assert cc.salesforce.auth == "client_credentials" and not cc.salesforce.login_given


def test_sandbox_scenario_still_refuses_stray_fields() -> None:
    doc = doc_with("sandbox_scenario", "ready")
    doc["salesforce"]["consumer_secret"] = "env:X"
    assert refused(doc).field == "salesforce.consumer_secret"


def test_sandbox_scenario_still_needs_my_domain_for_client_credentials() -> None:
    doc = doc_with("salesforce", {"login": "production", "auth": "client_credentials"})
    doc["sandbox_scenario"] = "ready"
    assert refused(doc).field == "salesforce.login"


# ---------------------------------------------------------------------------------------------- bad input

BAD_INPUTS: list[tuple[str, dict[Any, Any], str, str]] = [
    # (id, document, field, message fragment)
    ("unknown top key", doc_with("salesfroce", {}), "salesfroce", "did you mean 'salesforce'?"),
    (
        "unknown sf key",
        doc_with("salesforce.pasword", "env:X"),
        "salesforce.pasword",
        "did you mean 'password'?",
    ),
    ("unknown lsq key", doc_with("leadsquared.acess_key", "env:X"), "leadsquared.acess_key", "'access_key'"),
    ("unknown connector key", doc_with("connector.namespce", "x"), "connector.namespce", "'namespace'"),
    (
        "unknown key no match",
        doc_with("connector.zzzzzz", "x"),
        "connector.zzzzzz",
        "expected one of: package_version_id",
    ),
    ("label missing", doc_with("org"), "org", "is required"),
    ("label uppercase", doc_with("org", "Acme-Prod"), "org", "must be lower case"),
    ("label slash", doc_with("org", "acme/prod"), "org", "must not contain /"),
    ("label dots", doc_with("org", ".."), "org", "may contain only lower-case letters"),
    ("label reserved", doc_with("org", "con"), "org", "reserved device name"),
    ("label number", doc_with("org", 2024), "org", "quote it"),
    ("login missing", doc_with("salesforce.login"), "salesforce.login", "is required"),
    (
        "login http",
        doc_with("salesforce.login", "http://acme.my.salesforce.com"),
        "salesforce.login",
        "http://",
    ),
    (
        "login lookalike",
        doc_with("salesforce.login", "https://acme.my.salesforce.com.evil.example"),
        "salesforce.login",
        "not a Salesforce My Domain host",
    ),
    (
        "login userinfo",
        doc_with("salesforce.login", "https://x@acme.my.salesforce.com"),
        "salesforce.login",
        "user",
    ),
    (
        "login port",
        doc_with("salesforce.login", "https://acme.my.salesforce.com:8443"),
        "salesforce.login",
        "port",
    ),
    (
        "login path",
        doc_with("salesforce.login", "https://acme.my.salesforce.com/home"),
        "salesforce.login",
        "path",
    ),
    (
        "login query",
        doc_with("salesforce.login", "https://acme.my.salesforce.com?a=b"),
        "salesforce.login",
        "path",
    ),
    ("login word", doc_with("salesforce.login", "staging"), "salesforce.login", "is not one of"),
    (
        "login bare host",
        doc_with("salesforce.login", "acme.my.salesforce.com"),
        "salesforce.login",
        "write it as",
    ),
    (
        "login lightning host",
        doc_with("salesforce.login", "https://acme.lightning.force.com"),
        "salesforce.login",
        "login URL is https://acme.my.salesforce.com",
    ),
    (
        "login backslash",
        doc_with("salesforce.login", "https://evil.com\\@acme.my.salesforce.com"),
        "salesforce.login",
        "",
    ),
    ("auth typo", doc_with("salesforce.auth", "passwrd"), "salesforce.auth", "did you mean 'password'?"),
    ("auth missing", doc_with("salesforce.auth"), "salesforce.auth", "is required"),
    (
        "password missing",
        doc_with("salesforce.password"),
        "salesforce.password",
        "auth 'password' needs username",
    ),
    ("username missing", doc_with("salesforce.username"), "salesforce.username", "is required"),
    ("username not email", doc_with("salesforce.username", "admin"), "salesforce.username", "email address"),
    (
        "username spaces",
        doc_with("salesforce.username", "ad min@acme.com"),
        "salesforce.username",
        "email address",
    ),
    (
        "stray access_token",
        doc_with("salesforce.access_token", "env:T"),
        "salesforce.access_token",
        "not used with auth 'password'",
    ),
    (
        "stray consumer_secret (jwt)",
        doc_with("salesforce", {**JWT, "consumer_secret": "env:S"}),
        "salesforce.consumer_secret",
        "'client_credentials'",
    ),
    (
        "stray password (jwt)",
        doc_with("salesforce", {**JWT, "password": "env:P"}),
        "salesforce.password",
        "auth 'jwt'",
    ),
    (
        "jwt no private_key",
        doc_with("salesforce", {k: v for k, v in JWT.items() if k != "private_key"}),
        "salesforce.private_key",
        "is required",
    ),
    (
        "jwt no consumer_key",
        doc_with("salesforce", {k: v for k, v in JWT.items() if k != "consumer_key"}),
        "salesforce.consumer_key",
        "is required",
    ),
    (
        "access_token no instance_url",
        doc_with("salesforce", {k: v for k, v in ACCESS_TOKEN.items() if k != "instance_url"}),
        "salesforce.instance_url",
        "is required",
    ),
    (
        "instance_url foreign",
        doc_with("salesforce", {**ACCESS_TOKEN, "instance_url": "https://acme.salesforce.com.evil.example"}),
        "salesforce.instance_url",
        "not a Salesforce host",
    ),
    (
        "instance_url http",
        doc_with("salesforce", {**ACCESS_TOKEN, "instance_url": "http://na1.salesforce.com"}),
        "salesforce.instance_url",
        "http://",
    ),
    (
        "client_credentials without My Domain",
        doc_with("salesforce", {**CLIENT_CREDENTIALS, "login": "production"}),
        "salesforce.login",
        "My Domain",
    ),
    (
        "client_credentials no secret",
        doc_with("salesforce", {k: v for k, v in CLIENT_CREDENTIALS.items() if k != "consumer_secret"}),
        "salesforce.consumer_secret",
        "is required",
    ),
    (
        "consumer_key spaces",
        doc_with("salesforce", {**JWT, "consumer_key": "3MVG a"}),
        "salesforce.consumer_key",
        "consumer key",
    ),
    ("api_version v", doc_with("salesforce.api_version", "v59.0"), "salesforce.api_version", "leading v"),
    ("api_version minor", doc_with("salesforce.api_version", "59.5"), "salesforce.api_version", "59.0"),
    ("salesforce not mapping", doc_with("salesforce", ["production"]), "salesforce", "expected a mapping"),
    ("region unknown", doc_with("leadsquared.region", "us12"), "leadsquared.region", "did you mean 'us11'?"),
    ("region far off", doc_with("leadsquared.region", "europe"), "leadsquared.region", "expected one of: sg"),
    ("region is host", doc_with("leadsquared.region", "api.leadsquared.com"), "leadsquared.region", "host:"),
    ("region and host", doc_with("leadsquared.host", "api.leadsquared.com"), "leadsquared.host", "not both"),
    ("region missing", doc_with("leadsquared.region"), "leadsquared.region", "is required"),
    ("access_key missing", doc_with("leadsquared.access_key"), "leadsquared.access_key", "is required"),
    (
        "package id missing",
        doc_with("connector.package_version_id"),
        "connector.package_version_id",
        "is required",
    ),
    (
        "package id prefix",
        doc_with("connector.package_version_id", "033FAKE0LSQ0001"),
        "connector.package_version_id",
        "033 is the package id",
    ),
    (
        "package id checksum",
        doc_with("connector.package_version_id", ID15 + "AAA"),
        "connector.package_version_id",
        "checksum",
    ),
    (
        "package id length",
        doc_with("connector.package_version_id", "04tFAKE0LSQ00"),
        "connector.package_version_id",
        "13 characters",
    ),
    (
        "package id chars",
        doc_with("connector.package_version_id", "04tFAKE0LSQ-001"),
        "connector.package_version_id",
        "letters and digits",
    ),
    (
        "namespace digit first",
        doc_with("connector.namespace", "1lsq"),
        "connector.namespace",
        "start with a letter",
    ),
    ("namespace double underscore", doc_with("connector.namespace", "lsq__x"), "connector.namespace", "__"),
    (
        "namespace trailing underscore",
        doc_with("connector.namespace", "lsq_"),
        "connector.namespace",
        "end with _",
    ),
    ("namespace too long", doc_with("connector.namespace", "a" * 16), "connector.namespace", "at most 15"),
    ("namespace hyphen", doc_with("connector.namespace", "lsq-x"), "connector.namespace", "'-'"),
    ("namespace missing", doc_with("connector.namespace"), "connector.namespace", "is required"),
    (
        "site digit first",
        doc_with("connector.remote_site_name", "1LSQ"),
        "connector.remote_site_name",
        "start with a letter",
    ),
    (
        "site double underscore",
        doc_with("connector.remote_site_name", "LSQ__URL"),
        "connector.remote_site_name",
        "__",
    ),
    (
        "site trailing underscore",
        doc_with("connector.remote_site_name", "LSQ_"),
        "connector.remote_site_name",
        "end with _",
    ),
    (
        "site hyphen",
        doc_with("connector.remote_site_name", "LSQ-URL"),
        "connector.remote_site_name",
        "letters, digits and _",
    ),
    (
        "site too long",
        doc_with("connector.remote_site_name", "L" * 41),
        "connector.remote_site_name",
        "at most 40",
    ),
    (
        "page_url http",
        doc_with("connector.page_url", "http://acme--lsqfake.vf.force.com"),
        "connector.page_url",
        "http://",
    ),
    (
        "page_url not url",
        doc_with("connector.page_url", "acme--lsqfake.vf.force.com"),
        "connector.page_url",
        "https://",
    ),
    (
        "authenticated not bool",
        doc_with("connector.connector_authenticated", "maybe"),
        "connector.connector_authenticated",
        "true or false",
    ),
    ("connector missing", doc_with("connector"), "connector.package_version_id", "is required"),
    ("scenario bad", doc_with("sandbox_scenario", "Ready!"), "sandbox_scenario", "not a scenario name"),
    ("non-text key", {**BASE, 1: "x"}, "", "keys must be text"),
]


@pytest.mark.parametrize(
    ("doc", "field", "fragment"), [case[1:] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS]
)
def test_bad_input_names_field_and_explains(doc: dict[str, Any], field: str, fragment: str) -> None:
    err = refused(doc)
    assert err.field == field
    assert fragment in err.message
    assert isinstance(err, ValidationError)


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("salesforce.password", "Hunter2-Raw-Password"),
        ("salesforce.security_token", "AbCdEfGh123456"),
        ("leadsquared.secret_key", "9f8e7d6c5b4a3f2e1d0c"),
        ("leadsquared.access_key", "u$8a1b2c3d4e5f6a7b8c9"),
    ],
)
def test_raw_secret_value_is_refused_and_never_echoed(path: str, raw: str) -> None:
    err = refused(doc_with(path, raw))
    assert isinstance(err, SecretError)
    assert err.field == path
    assert raw not in str(err)
    assert "env:NAME" in str(err)


def test_stray_secret_value_is_never_echoed() -> None:
    doc = doc_with("salesforce", {**ACCESS_TOKEN, "password": "Hunter2-Stray-Value"})
    err = refused(doc)
    assert err.field == "salesforce.password"
    assert "Hunter2-Stray-Value" not in str(err)


def test_unknown_key_value_is_never_echoed() -> None:
    err = refused(doc_with("salesforce.pasword", "Hunter2-Typo-Value"))
    assert "Hunter2-Typo-Value" not in str(err)


def test_where_prefixes_fields() -> None:
    assert refused(doc_with("salesforce.login", "nope"), "orgs[2]").field == "orgs[2].salesforce.login"
    assert refused("not a mapping", "orgs[4]").field == "orgs[4]"


# ---------------------------------------------------------------------------------------------- documents


def test_orgs_list_and_nested_error_path() -> None:
    second = doc_with("org", "acme-uat")
    orgs = parse_orgs({"orgs": [BASE, second]})
    assert [org.label for org in orgs] == ["acme-prod", "acme-uat"]
    third = doc_with("salesforce.login", "http://acme.my.salesforce.com", base=doc_with("org", "acme-dev"))
    with pytest.raises(ValidationError) as info:
        parse_orgs({"orgs": [BASE, second, third]})
    assert info.value.field == "orgs[2].salesforce.login"


def test_duplicate_labels_name_both_positions() -> None:
    with pytest.raises(ValidationError) as info:
        parse_orgs({"orgs": [BASE, doc_with("org", "other"), BASE]})
    assert info.value.field == "orgs[2].org"
    assert "orgs[0]" in info.value.message


@pytest.mark.parametrize(
    ("doc", "field", "fragment"),
    [
        (None, "", "empty"),
        (["a"], "", "top level must be a mapping"),
        ({"orgs": []}, "orgs", "non-empty list"),
        ({"orgs": {"org": "x"}}, "orgs", "non-empty list"),
        ({"orgs": ["x"]}, "orgs[0]", "expected a mapping"),
        ({"orgs": [BASE], "org": "x"}, "org", "no other top-level keys"),
    ],
)
def test_bad_documents(doc: object, field: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_orgs(doc)
    assert info.value.field == field
    assert fragment in info.value.message


ORG_YAML = """\
org: acme-prod
salesforce:
  login: https://acme.my.salesforce.com
  auth: password
  username: admin@acme.com
  password: env:SF_PASSWORD
  api_version: 59.0
leadsquared:
  host: https://api-us11.leadsquared.com
  access_key: env:LSQ_ACCESS_KEY
  secret_key: env:LSQ_SECRET_KEY
connector:
  package_version_id: 04tFAKE0LSQ0001
  namespace: lsqfake
  connector_authenticated: false
"""


def _write(tmp_path: Path, text: str, name: str = "orgs.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_single_org_file(tmp_path: Path) -> None:
    (org,) = load_org_file(_write(tmp_path, ORG_YAML))
    assert org.salesforce.login_domain == "acme.my"
    assert org.salesforce.api_version == "59.0"
    assert org.leadsquared.region == "us11"
    assert org.connector.package_version_id == ID18


def test_load_orgs_list_file(tmp_path: Path) -> None:
    indented = "\n".join("    " + line for line in ORG_YAML.splitlines())
    text = "orgs:\n  -\n" + indented + "\n  -\n" + indented.replace("acme-prod", "acme-uat") + "\n"
    assert [org.label for org in load_org_file(_write(tmp_path, text))] == ["acme-prod", "acme-uat"]


def test_malformed_yaml_reports_line_and_column_but_no_snippet(tmp_path: Path) -> None:
    text = 'org: acme\nsalesforce:\n  password: "Hunter2-Unclosed\n  login: production\n'
    with pytest.raises(ValidationError) as info:
        load_org_file(_write(tmp_path, text))
    assert "malformed YAML at line" in info.value.message
    assert "column" in info.value.message
    assert "Hunter2-Unclosed" not in str(info.value)


def test_yaml_bad_indentation(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="line 4, column 2"):
        load_org_file(_write(tmp_path, "org: a\nsalesforce:\n  login: x\n bad: y\n"))


def test_duplicate_yaml_key_is_refused(tmp_path: Path) -> None:
    text = ORG_YAML.replace(
        "  password: env:SF_PASSWORD\n", "  password: env:SF_PASSWORD\n  password: env:OTHER\n"
    )
    with pytest.raises(ValidationError) as info:
        load_org_file(_write(tmp_path, text))
    assert "found key 'password' twice" in info.value.message
    assert "line 7" in info.value.message


def test_yaml_merge_keys_still_work(tmp_path: Path) -> None:
    text = (
        "orgs:\n"
        "  - &base\n" + "\n".join("    " + line for line in ORG_YAML.splitlines()) + "\n"
        "  - <<: *base\n"
        "    org: acme-two\n"
    )
    assert [org.label for org in load_org_file(_write(tmp_path, text))] == ["acme-prod", "acme-two"]


def test_yaml_python_tags_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="malformed YAML"):
        load_org_file(_write(tmp_path, "org: !!python/object/apply:os.system ['true']\n"))


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_org_file(tmp_path: Path, text: str) -> None:
    with pytest.raises(ValidationError, match="empty"):
        load_org_file(_write(tmp_path, text))


def test_top_level_scalar_file(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="top level must be a mapping"):
        load_org_file(_write(tmp_path, "just text\n"))


def test_missing_org_file(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        load_org_file(tmp_path / "nope.yaml")


def test_org_file_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="is a directory"):
        load_org_file(tmp_path)


def test_org_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("org: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValidationError, match="not UTF-8"):
        load_org_file(path)


# ---------------------------------------------------------------------------------------------- flat

EXPECTED_FLAT_NAMES = [
    "org",
    "sf_login",
    "sf_auth",
    "sf_username",
    "sf_password",
    "sf_security_token",
    "sf_access_token",
    "sf_instance_url",
    "sf_consumer_key",
    "sf_consumer_secret",
    "sf_private_key",
    "sf_api_version",
    "lsq_region",
    "lsq_host",
    "lsq_access_key",
    "lsq_secret_key",
    "connector_package_version_id",
    "connector_namespace",
    "connector_package_name",
    "connector_remote_site_name",
    "connector_page_url",
    "connector_authenticated",
    "sandbox_scenario",
]


def test_flat_parameters_table() -> None:
    assert [p.name for p in FLAT_PARAMETERS] == EXPECTED_FLAT_NAMES
    assert all(p.help and p.type in (str, bool) for p in FLAT_PARAMETERS)
    secret_names = {p.name for p in FLAT_PARAMETERS if p.secret}
    assert secret_names == {
        "sf_password",
        "sf_security_token",
        "sf_access_token",
        "sf_consumer_secret",
        "sf_private_key",
        "lsq_access_key",
        "lsq_secret_key",
    }
    assert {p.name: p.default for p in FLAT_PARAMETERS}["connector_authenticated"] is False
    assert list(to_flat(parse_org(BASE))) == EXPECTED_FLAT_NAMES


ROUND_TRIP_DOCS = [
    BASE,
    SANDBOX_MINIMAL,
    doc_with("salesforce", JWT),
    doc_with("salesforce", {**ACCESS_TOKEN, "api_version": "60.0"}),
    doc_with("salesforce", CLIENT_CREDENTIALS),
    {
        "org": "practice",
        "sandbox_scenario": "wrong-lsq-region",
        "salesforce": {"login": "sandbox"},
        "leadsquared": {"host": "api-in22.leadsquared.com"},
        "connector": {
            "package_version_id": ID15,
            "namespace": "lsqfake",
            "page_url": "https://acme--lsqfake.vf.force.com/apex/Configure",
            "connector_authenticated": True,
            "remote_site_name": "Other_Site",
        },
    },
]


@pytest.mark.parametrize("doc", ROUND_TRIP_DOCS)
def test_flat_round_trip(doc: dict[str, Any]) -> None:
    org = parse_org(doc)
    flat = to_flat(org)
    assert from_flat(flat) == org
    assert to_flat(from_flat(flat)) == flat
    for name, value in flat.items():  # references only, never values
        if value and next(p for p in FLAT_PARAMETERS if p.name == name).secret:
            assert str(value).split(":", 1)[0] in ("env", "file", "keyring", "prompt")


def _flat(**changes: object) -> dict[str, Any]:
    return {**to_flat(parse_org(BASE)), **changes}


@pytest.mark.parametrize(
    ("flat", "field", "fragment"),
    [
        (_flat(sf_login="http://acme.my.salesforce.com"), "sf_login", "http://"),
        (_flat(sf_password=""), "sf_password", "is required"),
        (_flat(sf_pasword="env:X"), "sf_pasword", "did you mean 'sf_password'?"),
        (_flat(lsq_host="api-us11.leadsquared.com"), "lsq_host", "not both"),
        (_flat(lsq_region="", lsq_host="evil.com"), "lsq_host", "not a LeadSquared API host"),
        (_flat(connector_package_version_id="04t"), "connector_package_version_id", "3 characters"),
        (_flat(connector_authenticated="perhaps"), "connector_authenticated", "true or false"),
        (_flat(org="Acme"), "org", "lower case"),
        (_flat(sf_access_token="env:T"), "sf_access_token", "not used with auth"),
    ],
)
def test_from_flat_errors_name_the_flat_parameter(flat: dict[str, Any], field: str, fragment: str) -> None:
    with pytest.raises(UsageError) as info:
        from_flat(flat)
    assert info.value.field == field
    assert fragment in info.value.message


def test_from_flat_raw_secret_names_flat_parameter_without_echo() -> None:
    with pytest.raises(SecretError) as info:
        from_flat(_flat(lsq_secret_key="Raw-Secret-Key-Value"))
    assert info.value.field == "lsq_secret_key"
    assert "Raw-Secret-Key-Value" not in str(info.value)


def test_from_flat_accepts_none_and_string_booleans() -> None:
    flat = _flat(sf_security_token=None, connector_authenticated="True")
    org = from_flat(flat)
    assert org.salesforce.security_token is None
    assert org.connector.connector_authenticated is True


# ---------------------------------------------------------------------------------------------- properties


@given(st.text(alphabet=string.ascii_letters + string.digits, min_size=12, max_size=12))
def test_package_version_id_checksum_round_trip(body: str) -> None:
    id15 = "04t" + body
    id18 = id15 + sfid.checksum(id15)
    assert validate_package_version_id(id15) == id18
    assert validate_package_version_id(id18) == id18
    assert validate_package_version_id(id15 + id18[15:].lower()) == id18
    wrong = "".join("A" if ch != "A" else "B" for ch in id18[15:])
    with pytest.raises(ValidationError, match="checksum"):
        validate_package_version_id(id15 + wrong)
    with pytest.raises(ValidationError, match="starts with"):
        validate_package_version_id("033" + id18[3:])


@given(st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=1, max_size=45))
def test_remote_site_name_rules_hold_for_anything_accepted(name: str) -> None:
    try:
        accepted = validate_remote_site_name(name)
    except ValidationError as err:
        assert err.field == "connector.remote_site_name"
        return
    assert "__" not in accepted
    assert not accepted.endswith("_")
    assert accepted[0].isalpha()
    assert len(accepted) <= 40


@given(
    st.text(alphabet=string.ascii_letters, min_size=1, max_size=10),
    st.text(alphabet=string.ascii_letters + "_", max_size=10),
)
def test_remote_site_name_never_accepts_double_or_trailing_underscore(head: str, tail: str) -> None:
    for candidate in (f"{head}__{tail}", f"{head}{tail}_"):
        with pytest.raises(ValidationError):
            validate_remote_site_name(candidate)


def _raw_value_error(raw: str) -> SecretError:
    with pytest.raises(SecretError) as info:
        parse_org(doc_with("salesforce.password", raw))
    return info.value


@given(st.text(min_size=8, max_size=40).filter(lambda s: ":" not in s and s.strip() == s))
def test_secret_fields_never_echo_a_raw_value(raw: str) -> None:
    # Stronger than "raw not in message": the message does not depend on the value at all.
    err = _raw_value_error(raw)
    assert err.field == "salesforce.password"
    assert str(err) == str(_raw_value_error("Some-Other-Raw-Value"))


def test_org_params_is_frozen() -> None:
    org = parse_org(BASE)
    with pytest.raises(AttributeError):
        org.label = "x"  # type: ignore[misc]
    assert isinstance(org, OrgParams)
    assert params.DEFAULT_REMOTE_SITE_NAME == "LSQConnectorURL"
