"""`lsqsf check` refuses bad input with exit code 2: one or two lines naming the field, no traceback,
no secret echoed, no file written and no vendor call made (validation comes before the network)."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from lsqsf_helpers import sfid
from lsqsf_helpers.cli import main
from lsqsf_helpers.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
ID15 = "04tFAKE0LSQ0001"
ID18 = ID15 + sfid.checksum(ID15)
WRONG_CHECKSUM = ID15 + ("AAA" if sfid.checksum(ID15) != "AAA" else "BBB")
RAW_SECRET = "LEAKCANARY-raw-9b1c5e"
ENV = {
    "BAD_SF_PASSWORD": "not-a-real-password-1",
    "BAD_SF_TOKEN": "not-a-real-token-2",
    "BAD_LSQ_ACCESS_KEY": "not-a-real-access-key-3",
    "BAD_LSQ_SECRET_KEY": "not-a-real-secret-key-4",
    "BAD_SF_CONSUMER_SECRET": "not-a-real-consumer-secret-5",
}

BASE: dict[str, Any] = {
    "org": "acme-prod",
    "salesforce": {
        "login": "production",
        "auth": "password",
        "username": "admin@acme.com",
        "password": "env:BAD_SF_PASSWORD",
        "security_token": "env:BAD_SF_TOKEN",
    },
    "leadsquared": {
        "region": "us11",
        "access_key": "env:BAD_LSQ_ACCESS_KEY",
        "secret_key": "env:BAD_LSQ_SECRET_KEY",
    },
    "connector": {
        "package_version_id": ID18,
        "namespace": "lsqfake",
        "page_url": "https://acme--lsqfake.vf.force.com/apex/Configure",
    },
}
_DROP = object()


def org_with(**changes: object) -> dict[str, Any]:
    """A copy of BASE with dotted keys (``salesforce__login`` = salesforce.login) set, or removed with _DROP."""
    doc = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        target = doc
        for part in parents:
            target = target.setdefault(part, {})
        if value is _DROP:
            target.pop(last, None)
        else:
            target[last] = value
    return doc


def dump(doc: object) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


@dataclass(frozen=True)
class Case:
    """One bad input. `text` is the org file (None: no file is written); `names` must appear in stderr."""

    id: str
    text: str | None
    names: str
    args: tuple[str, ...] = ()  # extra CLI arguments; "{tmp}" and "{sandbox}" are filled in
    secret: str = ""  # a raw value that must never be printed
    prepare: Callable[[Path, pytest.MonkeyPatch], None] | None = None
    sandbox: bool = True  # also run with --sandbox <the running fixture>: no vendor call may reach it
    offline: bool = True  # also run without --sandbox (a real org: nothing may go on the network)
    extra_env: dict[str, str] = field(default_factory=dict)


def _secret_file(mode: int) -> Callable[[Path, pytest.MonkeyPatch], None]:
    def prepare(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        secret = tmp / "secrets" / "lsq_secret"
        secret.parent.mkdir()
        secret.write_text("not-a-real-secret-from-a-file\n")
        secret.chmod(mode)

    return prepare


def _unset(name: str) -> Callable[[Path, pytest.MonkeyPatch], None]:
    def prepare(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv(name, raising=False)

    return prepare


def _two_orgs(second: dict[str, Any]) -> str:
    first = org_with()
    return dump({"orgs": [first, second]})


CASES: tuple[Case, ...] = (
    # --- the file itself
    Case(
        "malformed yaml",
        f'org: acme\nsalesforce:\n  password: "{RAW_SECRET}\n',
        "org.yaml",
        secret=RAW_SECRET,
    ),
    Case("unbalanced flow", "org: [acme\n", "org.yaml"),
    Case("empty file", "", "org file"),
    Case("only a comment", "# nothing here\n", "org file"),
    Case("top level is a list", dump([org_with()]), "top level"),
    Case("missing file", None, "does-not-exist.yaml", args=("{tmp}/does-not-exist.yaml",)),
    Case("duplicate key", dump(org_with()) + "org: again\n", "twice"),
    # --- unknown keys at each level (a typo must not make a setting disappear silently)
    Case("unknown top-level key", dump(org_with(pasword=RAW_SECRET)), "pasword", secret=RAW_SECRET),
    Case(
        "unknown salesforce key",
        dump(org_with(salesforce__pasword=RAW_SECRET)),
        "salesforce.pasword",
        secret=RAW_SECRET,
    ),
    Case("unknown leadsquared key", dump(org_with(leadsquared__regoin="us11")), "leadsquared.regoin"),
    Case("unknown connector key", dump(org_with(connector__namespase="lsqfake")), "connector.namespase"),
    Case(
        "unknown key in the second org",
        _two_orgs(org_with(org="acme-uat", salesforce__usrname="admin@acme.com")),
        "orgs[1].salesforce.usrname",
    ),
    Case("key next to orgs", dump({"orgs": [org_with()], "defaults": {}}), "defaults"),
    # --- package version ids: prefix and checksum
    Case(
        "15-char package id, wrong prefix",
        dump(org_with(connector__package_version_id="033FAKE0LSQ0001")),
        "connector.package_version_id",
    ),
    Case(
        "18-char package id, wrong prefix",
        dump(org_with(connector__package_version_id="001" + ID18[3:])),
        "connector.package_version_id",
    ),
    Case(
        "18-char package id, wrong checksum",
        dump(org_with(connector__package_version_id=WRONG_CHECKSUM)),
        "connector.package_version_id",
    ),
    Case(
        "16-char package id",
        dump(org_with(connector__package_version_id=ID15 + "A")),
        "connector.package_version_id",
    ),
    # --- connector page URLs: only https on Salesforce's Visualforce domains
    Case(
        "page url http",
        dump(org_with(connector__page_url="http://acme--lsqfake.vf.force.com")),
        "connector.page_url",
    ),
    Case(
        "page url foreign host",
        dump(org_with(connector__page_url="https://connector.example.com/apex/Configure")),
        "connector.page_url",
    ),
    Case(
        "page url lookalike host",
        dump(org_with(connector__page_url="https://acme--ns.vf.force.com.evil.example")),
        "connector.page_url",
    ),
    Case(
        "page url unicode homoglyph",
        dump(org_with(connector__page_url="https://acme--ns.vf.f\u043erce.com")),
        "connector.page_url",
    ),
    Case(
        "page url user@host",
        dump(org_with(connector__page_url="https://evil.example@acme--ns.vf.force.com")),
        "connector.page_url",
    ),
    Case(
        "page url port",
        dump(org_with(connector__page_url="https://acme--ns.vf.force.com:8443/apex/Configure")),
        "connector.page_url",
    ),
    Case(
        "page url unbalanced bracket",
        dump(org_with(connector__page_url="https://acme--ns.vf.force.com]/apex/Configure")),
        "connector.page_url",
    ),
    Case(
        "login unbalanced bracket",
        dump(org_with(salesforce__login="https://[acme.my.salesforce.com")),
        "salesforce.login",
    ),
    Case(
        "leadsquared host bracket",
        dump(org_with(leadsquared__host="[")),
        "leadsquared.host",
    ),
    # --- Salesforce login hosts
    Case(
        "login lookalike host",
        dump(org_with(salesforce__login="https://acme.my.salesforce.com.evil.example")),
        "salesforce.login",
    ),
    Case("login http", dump(org_with(salesforce__login="http://acme.my.salesforce.com")), "salesforce.login"),
    Case(
        "login homoglyph",
        dump(org_with(salesforce__login="https://acme.my.s\u0430lesforce.com")),
        "salesforce.login",
    ),
    Case(
        "login user@host",
        dump(org_with(salesforce__login="https://admin@acme.my.salesforce.com")),
        "salesforce.login",
    ),
    Case(
        "login port",
        dump(org_with(salesforce__login="https://acme.my.salesforce.com:8443")),
        "salesforce.login",
    ),
    # --- remote site names that break Salesforce's naming rules
    Case(
        "remote site name with spaces",
        dump(org_with(connector__remote_site_name="LSQ Connector URL")),
        "connector.remote_site_name",
    ),
    Case(
        "remote site name starts with a digit",
        dump(org_with(connector__remote_site_name="1LSQConnectorURL")),
        "connector.remote_site_name",
    ),
    Case(
        "remote site name with __",
        dump(org_with(connector__remote_site_name="LSQ__ConnectorURL")),
        "connector.remote_site_name",
    ),
    Case(
        "remote site name ends with _",
        dump(org_with(connector__remote_site_name="LSQConnectorURL_")),
        "connector.remote_site_name",
    ),
    Case(
        "remote site name too long",
        dump(org_with(connector__remote_site_name="L" * 41)),
        "connector.remote_site_name",
    ),
    # --- LeadSquared regions and hosts
    Case("unknown region", dump(org_with(leadsquared__region="eu99")), "leadsquared.region"),
    Case(
        "foreign lsq host",
        dump(org_with(leadsquared__region=_DROP, leadsquared__host="api.leadsquared.com.evil.example")),
        "leadsquared.host",
    ),
    Case(
        "undocumented lsq host",
        dump(org_with(leadsquared__region=_DROP, leadsquared__host="api-xx99.leadsquared.com")),
        "leadsquared.host",
    ),
    Case(
        "lsq host over http",
        dump(org_with(leadsquared__region=_DROP, leadsquared__host="http://api.leadsquared.com")),
        "leadsquared.host",
    ),
    # --- secrets: references only, and what they point at must be usable
    Case(
        "raw salesforce password",
        dump(org_with(salesforce__password=RAW_SECRET)),
        "salesforce.password",
        secret=RAW_SECRET,
    ),
    Case(
        "raw lsq secret key",
        dump(org_with(leadsquared__secret_key=RAW_SECRET)),
        "leadsquared.secret_key",
        secret=RAW_SECRET,
    ),
    Case(
        "raw value that looks like a reference",
        dump(org_with(salesforce__security_token=f"token:{RAW_SECRET}")),
        "salesforce.security_token",
        secret=RAW_SECRET,
    ),
    Case(
        "env name that is a value",
        dump(org_with(leadsquared__access_key=f"env:{RAW_SECRET}")),
        "leadsquared.access_key",
        secret=RAW_SECRET,
    ),
    Case(
        "missing env var",
        dump(org_with()),
        "leadsquared.secret_key",
        prepare=_unset("BAD_LSQ_SECRET_KEY"),
    ),
    Case(
        "empty env var",
        dump(org_with()),
        "salesforce.password",
        extra_env={"BAD_SF_PASSWORD": ""},
    ),
    Case(
        "missing secret file",
        dump(org_with(leadsquared__secret_key="file:{tmp}/secrets/nope")),
        "leadsquared.secret_key",
    ),
    Case(
        "secret file mode 0644",
        dump(org_with(leadsquared__secret_key="file:{tmp}/secrets/lsq_secret")),
        "leadsquared.secret_key",
        prepare=_secret_file(0o644),
    ),
    Case(
        "prompt in a batch run",
        dump(org_with(salesforce__password="prompt")),
        "salesforce.password",
    ),
    # --- the rest of the org
    Case("username not an email", dump(org_with(salesforce__username="admin")), "salesforce.username"),
    Case(
        "duplicate org labels",
        _two_orgs(org_with()),
        "orgs[1].org",
    ),
    Case(
        "client_credentials without My Domain",
        dump(
            org_with(
                salesforce={
                    "login": "production",
                    "auth": "client_credentials",
                    "consumer_key": "3MVG9abc",
                    "consumer_secret": "env:BAD_SF_CONSUMER_SECRET",
                }
            )
        ),
        "salesforce.login",
    ),
    Case("unknown auth mode", dump(org_with(salesforce__auth="oauth")), "salesforce.auth"),
    Case(
        "credential of another auth mode",
        dump(org_with(salesforce__access_token="env:BAD_SF_TOKEN")),
        "salesforce.access_token",
    ),
    Case("org label with a slash", dump(org_with(org="acme/prod")), "org"),
    Case("missing leadsquared keys", dump(org_with(leadsquared__access_key=_DROP)), "leadsquared.access_key"),
    # --- command-line options
    Case(
        "--json into a missing folder",
        dump(org_with()),
        "--json",
        args=("--json", "{tmp}/no-such-folder/record.json"),
    ),
    Case("--json is a folder", dump(org_with()), "--json", args=("--json", "{tmp}")),
    Case(
        "--sandbox on another host",
        dump(org_with()),
        "--sandbox",
        args=("--sandbox", "http://10.0.0.1:1"),
        sandbox=False,
        offline=False,
    ),
    Case(
        "--sandbox over https",
        dump(org_with()),
        "--sandbox",
        args=("--sandbox", "https://{sandbox_netloc}"),
        sandbox=False,
        offline=False,
    ),
    Case(
        "--sandbox with user info",
        dump(org_with()),
        "--sandbox",
        args=("--sandbox", "http://admin@{sandbox_netloc}"),
        sandbox=False,
        offline=False,
    ),
    Case(
        "--sandbox with a bad port",
        dump(org_with()),
        "--sandbox",
        args=("--sandbox", "http://127.0.0.1:99999"),
        sandbox=False,
        offline=False,
    ),
    Case(
        "--sandbox with a path",
        dump(org_with()),
        "--sandbox",
        args=("--sandbox", "{sandbox}/services"),
        sandbox=False,
        offline=False,
    ),
    Case(
        "unknown sandbox_scenario",
        dump({"org": "practice", "sandbox_scenario": "nope", "connector": BASE["connector"]}),
        "sandbox_scenario",
        offline=False,
    ),
    Case(
        "unknown sandbox_scenario in the second org",
        dump(
            {
                "orgs": [
                    {"org": "ready", "sandbox_scenario": "ready", "connector": BASE["connector"]},
                    {"org": "practice", "sandbox_scenario": "nope", "connector": BASE["connector"]},
                ]
            }
        ),
        "orgs[1].sandbox_scenario",
        offline=False,
    ),
    Case(
        "bad read timeout",
        dump(org_with()),
        "LSQSF_READ_TIMEOUT",
        extra_env={"LSQSF_READ_TIMEOUT": "soon"},
    ),
)


def _modes(case: Case) -> tuple[str, ...]:
    modes = tuple(mode for mode, wanted in (("offline", case.offline), ("sandbox", case.sandbox)) if wanted)
    return modes or ("as given",)


RUNS = [pytest.param(case, mode, id=f"{case.id} [{mode}]") for case in CASES for mode in _modes(case)]


def test_there_are_at_least_30_bad_inputs() -> None:
    assert len(CASES) >= 30
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LSQSF_READ_TIMEOUT", raising=False)


@pytest.fixture
def vendor_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every request this process tries to send; vendor requests are refused, control API calls pass."""
    sent: list[str] = []
    original = requests.Session.send

    def guarded(
        self: requests.Session, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        url = request.url or ""
        sent.append(url)
        if "/_sandbox/" not in url:
            raise requests.ConnectionError(f"test guard: no network call may be made, not even to {url}")
        return original(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", guarded)
    yield sent


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
    }


def _calls_total(sandbox: Sandbox) -> int:
    total: int = requests.get(f"{sandbox.url}/_sandbox/calls", timeout=5).json()["total"]
    return total


def _fill(text: str, tmp: Path, sandbox: Sandbox) -> str:
    return (
        text.replace("{tmp}", str(tmp))
        .replace("{sandbox_netloc}", sandbox.url.removeprefix("http://"))
        .replace("{sandbox}", sandbox.url)
    )


def assert_refused(err: str, names: str, secret: str = "") -> None:
    lines = err.splitlines()
    assert 1 <= len(lines) <= 2, err
    assert lines[0].startswith("lsqsf: error: "), err
    assert names in err, err
    assert "Traceback" not in err
    if secret:
        assert secret not in err


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize(("case", "mode"), RUNS)
def test_bad_input_exits_2_before_anything_runs(
    case: Case,
    mode: str,
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    vendor_calls: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in case.extra_env.items():
        monkeypatch.setenv(name, value)
    if case.prepare is not None:
        case.prepare(tmp_path, monkeypatch)
    org_file = tmp_path / "org.yaml"
    if case.text is not None:
        org_file.write_text(_fill(case.text, tmp_path, sandbox), encoding="utf-8")
    args = [_fill(arg, tmp_path, sandbox) for arg in case.args]
    if not args or args[0] == "--json" or args[0].startswith("--sandbox"):
        args = [str(org_file), *args]
    json_target = tmp_path / "record.json"
    if "--json" not in args:
        args += ["--json", str(json_target)]
    if mode == "sandbox":
        args += ["--sandbox", sandbox.url]
    sandbox.app.reset()
    before_tree, before_calls = _tree(tmp_path), _calls_total(sandbox)

    code = main(["check", *args])

    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    assert_refused(err, case.names, case.secret)
    assert _tree(tmp_path) == before_tree  # nothing written: no record, no temporary file
    assert not json_target.exists()
    assert _calls_total(sandbox) == before_calls
    assert [url for url in vendor_calls if "/_sandbox/" not in url] == []


def check_in_a_process(
    cwd: Path, *args: str, python_options: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """`lsqsf check ARGS` in a new interpreter, with only this module's fake secrets in its environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LSQSF_", "BAD_"))} | ENV
    return subprocess.run(
        [sys.executable, *python_options, "-m", "lsqsf_helpers", "check", *args],
        cwd=cwd,
        env=env | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


SUBPROCESS_CASES = ("malformed yaml", "raw salesforce password", "--sandbox on another host")


@pytest.mark.parametrize("case_id", SUBPROCESS_CASES)
def test_bad_input_in_a_real_process_has_no_traceback(case_id: str, sandbox: Sandbox, tmp_path: Path) -> None:
    case = next(c for c in CASES if c.id == case_id)
    assert case.text is not None
    org_file = tmp_path / "org.yaml"
    org_file.write_text(_fill(case.text, tmp_path, sandbox), encoding="utf-8")
    args = [_fill(arg, tmp_path, sandbox) for arg in case.args]
    json_target = tmp_path / "record.json"
    before = _tree(tmp_path)
    result = check_in_a_process(tmp_path, str(org_file), *args, "--json", str(json_target))
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert_refused(result.stderr, case.names, case.secret)
    assert _tree(tmp_path) == before


def test_refusing_bad_input_loads_no_vendor_client(tmp_path: Path) -> None:
    """Validation comes first and needs only params and secrets: simple-salesforce, zeep, requests and
    jwt (about 0.3 s of imports) are never loaded to say exit 2. `-X importtime` lists every import."""
    org_file = tmp_path / "org.yaml"
    org_file.write_text(yaml.safe_dump(BASE | {"org": "has space"}), encoding="utf-8")
    result = check_in_a_process(tmp_path, str(org_file), python_options=("-X", "importtime"))
    assert result.returncode == 2, result.stderr
    imported = {
        line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")
    }
    assert "lsqsf_helpers.params" in imported  # the listing is real
    assert {"simple_salesforce", "zeep", "requests", "jwt", "lsqsf_helpers.salesforce"} & imported == set()
