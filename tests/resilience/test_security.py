"""Security properties: the allow-lists against look-alikes, validators as properties, loopback-only
servers, private secret files, and the audit log of every change an apply run makes.

Decisions recorded here (and in docs/reliability.md):
- Remote-site origins (`origins.normalise_origin`, `params.validate_page_url`): https only, no user
  info, no port other than 443, ASCII only (homoglyphs such as the Cyrillic a, U+0430, or the fullwidth full
  stop, U+FF0E, are refused, not folded), no trailing dot, no percent-encoding in the host, and no IDNA `xn--` label: a
  Visualforce host is built from a My Domain name and a namespace prefix, both plain ASCII, so an
  `xn--` label can only be a look-alike once encoded. Mixed case is accepted and lower-cased.
- Hosts that receive credentials (`validate_login`, `validate_instance_url`, `validate_lsq_host`)
  are ASCII only too: the Kelvin sign 'K' used to be lower-cased into an ASCII 'k' and accepted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import json
import os
import re
import signal
import socket
import stat
import string
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from lsqsf_helpers import http, lsq_regions, sfid
from lsqsf_helpers.checkrun import check_orgs
from lsqsf_helpers.errors import SecretError, ValidationError
from lsqsf_helpers.origins import derive_origin, normalise_origin, same_org
from lsqsf_helpers.params import (
    from_flat,
    parse_org,
    validate_instance_url,
    validate_login,
    validate_lsq_host,
    validate_page_url,
    validate_remote_site_name,
)
from lsqsf_helpers.redact import MASK, Redactor
from lsqsf_helpers.render import append_audit, audit_entries
from lsqsf_helpers.runbook import RunRecord
from lsqsf_helpers.sandbox import Sandbox, SandboxBindError, scenarios
from lsqsf_helpers.sandbox.app import SandboxApp
from lsqsf_helpers.sandbox.server import SandboxHTTPServer
from lsqsf_helpers.secrets import check_available, parse_ref, resolve

ROOT = Path(__file__).resolve().parents[2]
GOOD = "https://acme--lsqfake.vf.force.com"
VF_SUFFIXES = (".vf.force.com", ".visual.force.com", ".visualforce.com")
posix_only = pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")

# ---------------------------------------------------------------------------------------------------
# The remote-site allow-list against look-alikes
# ---------------------------------------------------------------------------------------------------

LOOKALIKES = {
    "Cyrillic a": "https://\u0430cme--lsqfake.vf.force.com",
    "fullwidth dot": "https://acme--lsqfake.vf\uff0eforce.com",
    "ideographic dot": "https://acme--lsqfake.vf\u3002force.com",
    "Kelvin sign": "https://\u212acme--lsqfake.vf.force.com",
    "zero-width space": "https://acme--lsqfake.vf.force\u200b.com",
    "user@host": "https://user@acme--lsqfake.vf.force.com",
    "user:password@host": "https://user:pw@acme--lsqfake.vf.force.com",
    "vf host as user name": "https://acme--lsqfake.vf.force.com@attacker.example",
    "port": "https://acme--lsqfake.vf.force.com:8443",
    "port 80": "https://acme--lsqfake.vf.force.com:80",
    "malformed port": "https://acme--lsqfake.vf.force.com:44x3",
    "trailing dot": "https://acme--lsqfake.vf.force.com.",
    "trailing dot and path": "https://acme--lsqfake.vf.force.com./apex/Configure",
    "suffix as a prefix": "https://x.vf.force.com.attacker.example",
    "wildcard-shaped prefix": "https://evil.force.com.attacker.example",
    "suffix in the fragment": "https://attacker.example/#.vf.force.com",
    "suffix in the path": "https://attacker.example/.vf.force.com",
    "suffix in the query": "https://attacker.example?.vf.force.com",
    "backslash then @": "https://attacker.example\\@x--y.vf.force.com",
    "backslash as a slash": "https://attacker.example\\.x--y.vf.force.com",
    "encoded dot in the host": "https://acme--lsqfake%2evf.force.com",
    "encoded dot before com": "https://acme--lsqfake.vf.force%2ecom",
    "encoded @": "https://attacker.example%40acme--lsqfake.vf.force.com",
    "punycode label": "https://xn--cme--lsqfake-9ii.vf.force.com",
    "punycode Cyrillic label": "https://xn--80ak6aa92e.vf.force.com",
    "punycode legacy label": "https://xn--acme-lsqfake.na1.visual.force.com",
    "bare suffix": "https://vf.force.com",
    "empty label": "https://.vf.force.com",
    "double dot": "https://acme..vf.force.com",
    "leading hyphen": "https://-acme.vf.force.com",
    "underscore": "https://acme_x.vf.force.com",
    "wildcard": "https://*.vf.force.com",
    "IPv6 literal": "https://[::1].vf.force.com",
    "IP address": "https://127.0.0.1",
    "http": "http://acme--lsqfake.vf.force.com",
    "no scheme": "acme--lsqfake.vf.force.com",
    "one slash": "https:/acme--lsqfake.vf.force.com",
    "javascript": "javascript://acme--lsqfake.vf.force.com/%0aalert(1)",
    "lightning host": "https://acme.lightning.force.com",
    "my domain host": "https://acme.my.salesforce.com",
    "force.com apex site": "https://acme.force.com",
    "two labels before vf": "https://attacker.example.vf.force.com",
    "NUL": "https://acme--lsqfake.vf.force.com\x00.attacker.example",
}

ACCEPTED = {
    GOOD: GOOD,
    "HTTPS://ACME--LsqFake.VF.Force.COM/apex/Configure?tab=auth": GOOD,
    f"{GOOD}:443/apex/Configure": GOOD,
    f"{GOOD}/apex/Configure#Authentication": GOOD,
    "https://acme--uat--lsqfake.sandbox.vf.force.com": "https://acme--uat--lsqfake.sandbox.vf.force.com",
    "https://acme--lsqfake.develop.vf.force.com": "https://acme--lsqfake.develop.vf.force.com",
    "https://lsqfake.na99.visual.force.com": "https://lsqfake.na99.visual.force.com",
    "https://acme--c.visualforce.com": "https://acme--c.visualforce.com",
}


@pytest.mark.parametrize("url", LOOKALIKES.values(), ids=LOOKALIKES.keys())
def test_lookalike_origins_are_refused_by_both_validators(url: str) -> None:
    for validate in (normalise_origin, validate_page_url):
        with pytest.raises(ValidationError) as info:
            validate(url)
        assert info.value.field == "connector.page_url"


@pytest.mark.parametrize("url", ACCEPTED, ids=list(ACCEPTED))
def test_genuine_visualforce_addresses_are_accepted_and_lower_cased(url: str) -> None:
    assert normalise_origin(url) == ACCEPTED[url]
    assert validate_page_url(url) == url  # the page URL is kept as the admin gave it
    assert normalise_origin(validate_page_url(url)) == ACCEPTED[url]


@pytest.mark.parametrize(
    "instance_host",
    [
        "acme.my.salesforce.com.attacker.example",
        "acme.my.salesforce.com.",
        "acme.my.salesforce.com:8443",
        "attacker.example",
        "\u0430cme.my.salesforce.com",
        ".my.salesforce.com",
    ],
)
def test_the_derived_origin_needs_a_genuine_my_domain_host(instance_host: str) -> None:
    with pytest.raises(ValidationError):
        derive_origin(instance_host, "lsqfake")


@pytest.mark.parametrize(
    ("validate", "text"),
    [
        (validate_login, "https://\u212acme.my.salesforce.com"),  # Kelvin sign, folds to 'k'
        (validate_login, "https://acme.my.salesforce.com\u3002"),
        (validate_instance_url, "https://na\u0131.salesforce.com"),  # dotless i
        (validate_lsq_host, "api-us11.leadsquared.co\u1d0d"),
        (validate_lsq_host, "\u212a.leadsquared.com"),
    ],
)
def test_hosts_that_receive_credentials_are_ascii_only(validate: Any, text: str) -> None:
    with pytest.raises(ValidationError, match="ASCII"):
        validate(text)


# ---------------------------------------------------------------------------------------------------
# Validators as properties
# ---------------------------------------------------------------------------------------------------

ID_CHARS = string.ascii_letters + string.digits
CHECKSUM_ALPHABET = string.ascii_uppercase + "012345"


@given(st.text(alphabet=ID_CHARS, min_size=15, max_size=15))
def test_sfid_any_15_character_id_round_trips_through_its_18_character_form(id15: str) -> None:
    id18 = sfid.to18(id15)
    assert len(id18) == 18 and id18[:15] == id15
    assert set(id18[15:]) <= set(CHECKSUM_ALPHABET)
    assert sfid.to18(id18) == id18
    assert sfid.to18(id18[:15] + id18[15:].lower()) == id18  # the checksum is case-insensitive
    assert sfid.is_valid(id15) and sfid.is_valid(id18)


@given(
    st.text(alphabet=ID_CHARS, min_size=15, max_size=15),
    st.integers(min_value=0, max_value=2),
    st.sampled_from(CHECKSUM_ALPHABET),
)
def test_sfid_a_changed_checksum_letter_is_refused(id15: str, position: int, letter: str) -> None:
    id18 = sfid.to18(id15)
    if id18[15 + position] == letter:
        return
    wrong = id18[: 15 + position] + letter + id18[15 + position + 1 :]
    assert not sfid.is_valid(wrong)
    with pytest.raises(ValueError):
        sfid.to18(wrong)


@given(st.text(alphabet=ID_CHARS, min_size=15, max_size=15), st.integers(min_value=0, max_value=14))
def test_sfid_a_case_flip_in_the_body_is_caught_by_the_checksum(id15: str, position: int) -> None:
    char = id15[position]
    if not char.isalpha():
        return
    flipped = id15[:position] + char.swapcase() + id15[position + 1 :]
    assert not sfid.is_valid(flipped + sfid.checksum(id15))


LABEL = st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=12)
NOISE = st.sampled_from(
    [
        "",
        "@",
        ":",
        ":443",
        ":8443",
        ".",
        "..",
        "/",
        "\\",
        "#",
        "?",
        "%2e",
        "%40",
        "\u0430",
        "\uff0e",
        "xn--",
        " ",
    ]
)
SUFFIX = st.sampled_from(
    [
        ".vf.force.com",
        ".sandbox.vf.force.com",
        ".na1.visual.force.com",
        ".visualforce.com",
        ".force.com",
        ".com",
        "",
    ]
)


@st.composite
def url_like(draw: st.DrawFn) -> str:
    """Mostly Visualforce-shaped addresses with noise in every part; sometimes any text at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=60))
    scheme = draw(st.sampled_from(["https://", "HTTPS://", "http://", "https:/", "", "ftp://", "https:\\\\"]))
    user = draw(st.sampled_from(["", "user@", "a:b@", "acme--x.vf.force.com@"]))
    host = draw(NOISE) + draw(LABEL) + draw(NOISE) + draw(LABEL) + draw(SUFFIX) + draw(NOISE)
    tail = draw(st.sampled_from(["", "/apex/Configure", "#.vf.force.com", "?x=.vf.force.com", "/@x"]))
    return scheme + user + host + draw(NOISE) + tail


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(url_like())
def test_any_origin_accepted_is_https_on_a_visualforce_suffix_without_port_or_user(text: str) -> None:
    try:
        origin = normalise_origin(text)
    except ValidationError as err:
        assert err.field == "connector.page_url"
        origin = ""
    if origin:
        host = origin.removeprefix("https://")
        assert origin.startswith("https://")
        assert re.fullmatch(r"[a-z0-9.-]+", host), host
        assert host.endswith(VF_SUFFIXES)
        assert not host.startswith(".") and ".." not in host and not host.endswith(".")
        assert "xn--" not in host
        parts = urlsplit(text.strip())
        assert parts.scheme.lower() == "https"
        assert parts.username is None and parts.password is None
        assert parts.port in (None, 443)
        assert (parts.hostname or "") == host
    try:
        page = validate_page_url(text)
    except ValidationError:
        return
    assert normalise_origin(page) == origin  # the page URL is never looser than the origin


HOST_NOISE = st.sampled_from(["", ".", "-", "x", "1", ":443", "/", "@", "\u0430", "%2e", " ", "API"])


@st.composite
def lsq_host_like(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=40))
    host = draw(st.sampled_from([*lsq_regions.HOSTS, "api-xx99.leadsquared.com", "leadsquared.com"]))
    case = draw(st.sampled_from([str, str.upper, str.title]))
    scheme = draw(st.sampled_from(["", "https://", "http://", "user@", "https://user@"]))
    return scheme + draw(HOST_NOISE) + case(host) + draw(HOST_NOISE)


@settings(max_examples=300)
@given(lsq_host_like())
@example("[")  # found by Hypothesis: urlsplit's ValueError escaped the validator
@example("api-us11.leadsquared.com]")
def test_only_documented_leadsquared_hosts_are_accepted(text: str) -> None:
    try:
        host = validate_lsq_host(text)
    except ValidationError as err:
        assert err.field == "leadsquared.host"
        return
    assert host in lsq_regions.HOSTS


@given(st.text(max_size=50))
def test_any_remote_site_name_accepted_follows_the_developer_name_rules(text: str) -> None:
    try:
        name = validate_remote_site_name(text)
    except ValidationError as err:
        assert err.field == "connector.remote_site_name"
        return
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,39}", name)
    assert "__" not in name and not name.endswith("_")


SECRET_FIELDS = (
    ("salesforce", "password", "sf_password"),
    ("salesforce", "security_token", "sf_security_token"),
    ("leadsquared", "access_key", "lsq_access_key"),
    ("leadsquared", "secret_key", "lsq_secret_key"),
)
NOT_A_REF = st.sampled_from(
    ["", "ENV:", "Env:", "env:1", "env:-", "keyring:", "keyring:svc", "file", "prompt ", "http://"]
)


def refusals(raw: str, section: str, key: str, flat: str) -> list[SecretError | ValidationError]:
    """The errors a raw value given for one secret field meets: as a reference, in an org, flat."""
    doc: dict[str, Any] = {
        "org": "acme",
        "sandbox_scenario": "ready",
        "connector": {"package_version_id": scenarios.FAKE_PACKAGE_VERSION_ID, "namespace": "lsqfake"},
        section: {key: raw},
    }
    if section == "leadsquared":
        doc["leadsquared"]["access_key" if key == "secret_key" else "secret_key"] = "env:X"
    found: list[SecretError | ValidationError] = []
    for call in (
        lambda: parse_ref(raw, f"{section}.{key}"),
        lambda: parse_org(doc),
        lambda: from_flat({"org": "acme", "sandbox_scenario": "ready", flat: raw}),
    ):
        try:
            call()
        except (SecretError, ValidationError) as err:
            found.append(err)
    return found


@settings(max_examples=200)
@given(NOT_A_REF, st.text(alphabet=ID_CHARS + "!$%&*+=?^~", min_size=10, max_size=30))
def test_a_raw_secret_value_is_never_echoed_in_the_error(prefix: str, value: str) -> None:
    raw = prefix + value
    for section, key, flat in SECRET_FIELDS:
        # A value that is a word of the message itself (say "salesforce", from the field name) shows up
        # whether or not it is echoed: the same refusals of a value that cannot be in them tell.
        canary = "".join(refusal_texts(prefix + "\u00a7" * len(value), section, key, flat))
        assume(value not in canary)
        errors = refusals(raw, section, key, flat)
        assert errors  # none of these prefixes makes a usable reference
        for err in errors:
            shown = f"{err} {err!r} {err.message} {err.remedy}"
            assert value not in shown
            assert raw not in shown


def refusal_texts(raw: str, section: str, key: str, flat: str) -> list[str]:
    return [f"{err} {err!r} {err.message} {err.remedy}" for err in refusals(raw, section, key, flat)]


# ---------------------------------------------------------------------------------------------------
# Servers listen on loopback only
# ---------------------------------------------------------------------------------------------------


def listening_addresses(port: int) -> list[str]:
    """Local addresses of the sockets listening on TCP `port`, from /proc/net/tcp and tcp6."""
    found = []
    for name in ("tcp", "tcp6"):
        table = Path("/proc/net") / name
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                if name == "tcp":
                    found.append(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1]))
                else:
                    words = bytes.fromhex(address)
                    raw = b"".join(words[i : i + 4][::-1] for i in range(0, 16, 4))
                    found.append(socket.inet_ntop(socket.AF_INET6, raw))
    return found


def tcp_listeners_of(pid: int) -> list[str]:
    """The local addresses process `pid` listens on over TCP: its socket inodes in /proc/net/tcp."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
            address = socket.inet_ntop(socket.AF_INET, bytes.fromhex(fields[1].split(":")[0])[::-1])
            found.append(address)
    return found


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.0.2.10", "127.0.0.2", "example.com"])
def test_the_sandbox_server_refuses_any_bind_address_but_loopback(host: str) -> None:
    with pytest.raises(SandboxBindError, match=r"127\.0\.0\.1"):
        SandboxHTTPServer(SandboxApp([]), host=host)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc/net/tcp")
def test_an_embedded_sandbox_listens_on_127_0_0_1_only() -> None:
    with Sandbox([], host="localhost") as sb:
        assert sb.httpd.socket.getsockname()[0] == "127.0.0.1"
        assert listening_addresses(sb.port) == ["127.0.0.1"]


@pytest.fixture
def sandbox_process() -> Iterator[tuple[subprocess.Popen[str], int]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "lsqsf_helpers", "sandbox", "--port", "0", "--scenario", "ready"],
        cwd=ROOT,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    port = 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not port:
        line = process.stdout.readline()
        if not line:
            break
        found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        port = int(found.group(1)) if found else 0
    try:
        assert port, "lsqsf sandbox printed no address"
        yield process, port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate(timeout=5)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc/net/tcp")
def test_lsqsf_sandbox_listens_on_127_0_0_1_only(sandbox_process: tuple[subprocess.Popen[str], int]) -> None:
    process, port = sandbox_process
    assert requests.get(f"http://127.0.0.1:{port}/_sandbox/orgs", timeout=5).ok
    assert listening_addresses(port) == ["127.0.0.1"]
    try:
        import psutil
    except ImportError:
        return
    listening = [
        c.laddr for c in psutil.Process(process.pid).net_connections(kind="inet") if c.status == "LISTEN"
    ]
    assert listening and all(address.ip == "127.0.0.1" for address in listening), listening


# ---------------------------------------------------------------------------------------------------
# file: references refuse files others can read or write, also behind a symlink
# ---------------------------------------------------------------------------------------------------

FIELD = "salesforce.password"
VALUE = "file-secret-value-8d1e"


def secret_at(path: Path, mode: int) -> Path:
    path.write_text(VALUE, encoding="utf-8")
    path.chmod(mode)
    return path


@posix_only
@pytest.mark.parametrize("mode", [0o660, 0o670, 0o622, 0o610])
def test_a_group_writable_or_group_readable_secret_file_is_refused(tmp_path: Path, mode: int) -> None:
    path = secret_at(tmp_path / "secret", mode)
    ref = parse_ref(f"file:{path}", FIELD)
    for call in (lambda: check_available(ref, FIELD), lambda: resolve(ref, FIELD)):
        with pytest.raises(SecretError, match="group or others") as info:
            call()
        assert info.value.remedy == f"chmod 600 {path}"
        assert VALUE not in str(info.value)


@posix_only
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o620, 0o604])
def test_a_symlink_to_an_over_readable_file_is_refused(tmp_path: Path, mode: int) -> None:
    target = secret_at(tmp_path / "shared-secret", mode)
    link = tmp_path / "secret-link"
    link.symlink_to(target)
    ref = parse_ref(f"file:{link}", FIELD)
    for call in (lambda: check_available(ref, FIELD), lambda: resolve(ref, FIELD)):
        with pytest.raises(SecretError, match="group or others") as info:
            call()
        assert VALUE not in str(info.value)


@posix_only
def test_a_symlink_to_a_private_file_is_followed(tmp_path: Path) -> None:
    """Like ssh with ~/.ssh/id_*: the mode that matters is the file's, not the link's (always 0777)."""
    target = secret_at(tmp_path / "private-secret", 0o600)
    link = tmp_path / "secret-link"
    link.symlink_to(target)
    assert resolve(parse_ref(f"file:{link}", FIELD), FIELD) == VALUE


# ---------------------------------------------------------------------------------------------------
# The audit log: one JSON line per change an apply run made, appended, never rewritten
# ---------------------------------------------------------------------------------------------------

AUDIT_FIELDS = ["time", "org", "mode", "step", "what", "before", "after", "run_started", "lsqsf_version"]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(["fresh", "lightning", "ready", "no-remote-site"]) as sb:
        yield sb


def practice(*labels: str) -> list[Any]:
    connector = {
        "package_version_id": scenarios.FAKE_PACKAGE_VERSION_ID,
        "namespace": scenarios.FAKE_NAMESPACE,
    }
    return [parse_org({"org": label, "sandbox_scenario": label, "connector": connector}) for label in labels]


def audited(path: Path) -> Callable[[RunRecord], None]:
    """An `on_record` callback that appends each org's changes to the audit log at `path`."""

    def on_record(record: RunRecord) -> None:
        append_audit(path, record)

    return on_record


def read_audit(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@posix_only
def test_the_audit_log_has_a_line_per_change_and_is_only_ever_appended(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.app.reset()
    audit = tmp_path / "audit.jsonl"
    orgs = practice("fresh", "lightning", "ready")

    check_orgs(orgs, apply=False, sandbox_url=sandbox.url, on_record=audited(audit))
    assert not audit.exists() or audit.read_text() == ""  # check-only changes nothing, so logs nothing

    first = check_orgs(orgs, apply=True, sandbox_url=sandbox.url, on_record=audited(audit))
    lines = read_audit(audit)
    changes = [(r.org, s.step, c) for r in first for s in r.steps for c in s.changes]
    assert len(lines) == len(changes) == 4  # fresh: install, classic, remote site; lightning: classic
    for line, (org, step, change) in zip(lines, changes, strict=True):
        assert list(line) == AUDIT_FIELDS
        assert (line["org"], line["step"], line["mode"]) == (org, step, "apply")
        assert (line["what"], line["before"], line["after"]) == (change.what, change.before, change.after)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", line["time"])
    assert {(line["org"], line["step"]) for line in lines} == {
        ("fresh", "install_connector"),
        ("fresh", "classic_view"),
        ("fresh", "remote_site"),
        ("lightning", "classic_view"),
    }
    assert audit.stat().st_mode & 0o077 == 0  # private to its owner, like the secrets it sits next to

    before = audit.read_bytes()
    check_orgs(orgs, apply=True, sandbox_url=sandbox.url, on_record=audited(audit))
    assert audit.read_bytes() == before  # a second apply changes nothing, so adds nothing

    sandbox.app.reset()  # the orgs are back to undone: a new apply appends after the old lines
    check_orgs(practice("lightning"), apply=True, sandbox_url=sandbox.url, on_record=audited(audit))
    after = audit.read_bytes()
    assert after.startswith(before) and len(read_audit(audit)) == 5


def test_audit_entries_are_redacted(sandbox: Sandbox) -> None:
    sandbox.app.reset()
    (record,) = check_orgs(practice("lightning"), apply=True, sandbox_url=sandbox.url)
    (entry,) = audit_entries(record, redactor=Redactor())
    username = entry["what"].split()[1].rstrip(":")
    redactor = Redactor()
    redactor.register(username, label="test")
    (masked,) = audit_entries(record, redactor=redactor)
    assert username not in json.dumps(masked)
    assert masked["what"] == f"User {MASK}: UserPreferencesLightningExperiencePreferred"


# ---------------------------------------------------------------------------------------------------
# Sandbox sessions take nothing from the environment
# ---------------------------------------------------------------------------------------------------


@posix_only
def test_a_sandbox_session_never_lends_netrc_credentials_to_the_emulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """requests adds ~/.netrc credentials for the host of the URL; in sandbox mode that URL names the
    real vendor host, so a real login from ~/.netrc would travel to the emulator."""
    netrc = tmp_path / ".netrc"
    netrc.write_text(
        "machine login.salesforce.com login admin@acme.com password real-sf-password-6c2e\n"
        "machine api.leadsquared.com login ak password real-lsq-secret-0f4b\n"
    )
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    with Sandbox([]) as sb:
        session = http.new_session(sandbox_url=sb.url, retries=0)
        for url in ("https://login.salesforce.com/services/Soap/u/59.0", "https://api.leadsquared.com/v2/x"):
            prepared = session.prepare_request(requests.Request("GET", url))
            assert "Authorization" not in prepared.headers
        assert not session.trust_env
    assert http.new_session().trust_env  # real runs keep the environment's proxies and CA bundle


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="Unix sockets; reads /proc/net/tcp")
def test_the_kernel_of_a_headless_run_has_no_channel_on_tcp_and_its_sockets_are_private() -> None:
    """`lsqsf run` and the batch start kernels through the watchdog's manager: Unix sockets, not TCP."""
    from jupyter_client.blocking.client import BlockingKernelClient

    from lsqsf_helpers.watchdog import Watchdog

    # the manager is asynchronous: drive it from a thread of its own, where no event loop runs already
    with Watchdog(60) as watchdog, ThreadPoolExecutor(max_workers=1) as loop_thread:
        manager = watchdog.manager_class()(kernel_name="python3")
        loop_thread.submit(asyncio.run, manager.start_kernel()).result()
        try:
            info = manager.get_connection_info()
            assert info["transport"] == "ipc"
            folder = Path(str(info["ip"])).parent
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and folder.owner() == getpass.getuser()
            client = BlockingKernelClient()
            client.load_connection_info(info)
            client.start_channels()
            try:
                reply = client.execute_interactive("40 + 2", timeout=60)  # the kernel answers on them
                assert reply["content"]["status"] == "ok"
            finally:
                client.stop_channels()
            sockets = [p for p in folder.iterdir() if stat.S_ISSOCK(p.stat().st_mode)]
            assert len(sockets) == 5  # shell, iopub, stdin, control, heartbeat
            # no channel on TCP; ipykernel's own pipe for subprocesses' output stays on 127.0.0.1 (iostream.py)
            assert tcp_listeners_of(manager.provisioner.process.pid) in ([], ["127.0.0.1"])
        finally:
            loop_thread.submit(asyncio.run, manager.shutdown_kernel(now=True)).result()
    assert not folder.exists()  # removed with the watchdog


@pytest.mark.parametrize(
    ("origin", "instance_host", "same"),
    [
        ("https://acme--lsqfake.vf.force.com", "acme.my.salesforce.com", True),
        ("https://acme--uat--lsqfake.sandbox.vf.force.com", "acme--uat.sandbox.my.salesforce.com", True),
        ("https://acme--lsqfake.cs70.visual.force.com", "acme.my.salesforce.com", True),
        ("https://other--lsqfake.vf.force.com", "acme.my.salesforce.com", False),
        ("https://acmecorp--lsqfake.vf.force.com", "acme.my.salesforce.com", False),  # a longer name
        ("https://acme--lsqfake.sandbox.vf.force.com", "acme--uat.sandbox.my.salesforce.com", False),
        ("https://acme--lsqfake.vf.force.com", "na1.salesforce.com", True),  # no My Domain: cannot tell
    ],
)
def test_a_page_url_must_belong_to_the_org_it_is_for(origin: str, instance_host: str, same: bool) -> None:
    assert same_org(origin, instance_host) is same


def test_another_orgs_page_url_is_refused_at_the_remote_site_step(sandbox: Sandbox) -> None:
    sandbox.app.reset()
    (org,) = practice("no-remote-site")
    with sandbox.app.lock:
        own = sandbox.app.salesforce.org_summary("no-remote-site")["connector_page_origin"]
        other = sandbox.app.salesforce.org_summary("ready")["connector_page_origin"]
        sites = dict(sandbox.app.salesforce.orgs["no-remote-site"].remote_sites)
    foreign = dataclasses.replace(
        org, connector=dataclasses.replace(org.connector, page_url=other + "/apex/Configure")
    )
    (record,) = check_orgs([foreign], apply=True, sandbox_url=sandbox.url)
    step = next(s for s in record.steps if s.step == "remote_site")
    assert step.status.value == "action_needed" and step.changes == ()
    assert step.evidence["field"] == "connector.page_url" and "another org" in step.message
    with sandbox.app.lock:
        assert sandbox.app.salesforce.orgs["no-remote-site"].remote_sites == sites  # nothing written
    mine = dataclasses.replace(
        org, connector=dataclasses.replace(org.connector, page_url=own + "/apex/Configure")
    )
    (record,) = check_orgs([mine], apply=True, sandbox_url=sandbox.url)
    assert next(s for s in record.steps if s.step == "remote_site").status.value == "ok"
