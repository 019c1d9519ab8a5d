"""The leak matrix: every secret field, given through every reference kind, run through every path
(`lsqsf check`, `lsqsf run`, `lsqsf batch`, `lsqsf report`, the interactive notebook form) never
shows up in anything written or printed.

The secrets are the sandbox's real fake credentials of the `ready` org (distinctive random strings),
so every login succeeds and the values travel the whole way; each run is also asserted to have
succeeded, otherwise the scan would prove nothing.

Reference kinds: env: and file: everywhere; keyring: (an in-memory backend) only in-process, i.e.
`lsqsf check` and the interactive NotebookRun; notebook kernels (run, batch) are subprocesses that
cannot see an in-process backend. prompt: the interactive form's typed Password fields, and a
check that a headless run refuses it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import keyring
import keyring.backend
import pytest
import requests
from sandboxkit import listed_org

from lsqsf_helpers import ui
from lsqsf_helpers.cli import main
from lsqsf_helpers.http import mount_sandbox
from lsqsf_helpers.notebook import NotebookRun
from lsqsf_helpers.sandbox import Sandbox
from lsqsf_helpers.steps import STEP_IDS

CONNECTOR = "  connector: {package_version_id: 04tFAKE0LSQ0001, namespace: lsqfake}\n"
KEYRING_SERVICE = "lsqsf-leak-matrix"
FIELDS = (
    "sf_password",
    "sf_security_token",
    "sf_consumer_secret",
    "sf_private_key",
    "sf_access_token",
    "lsq_access_key",
    "lsq_secret_key",
)
MODES = ("password", "client_credentials", "jwt", "access_token")


class MemoryKeyring(keyring.backend.KeyringBackend):
    """An in-memory keyring, for this process only."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


# ----- scanning -------------------------------------------------------------------------------------------
def forms(secret: str) -> set[str]:
    """The secret raw, JSON-escaped and URL-encoded; for a PEM key also each non-header body line."""
    found = {secret, json.dumps(secret)[1:-1], quote(secret, safe="")}
    if "PRIVATE KEY" in secret:
        found.update(
            line.strip() for line in secret.splitlines() if line.strip() and "PRIVATE KEY" not in line
        )
    return found


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    """Names of the secrets found in text (never the values: this goes into assertion messages)."""
    return sorted({name for name, value in secrets.items() for form in forms(value) if form in text})


def scan_tree(root: Path, secrets: dict[str, str], *, skip: Path) -> list[Path]:
    """Every file under root (but the secret files the test wrote itself) must be clean."""
    scanned = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or skip in path.parents:
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        assert leaks(text, secrets) == [], str(path.relative_to(root))
        scanned.append(path)
    return scanned


def scan_console(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, secrets: dict[str, str]
) -> str:
    out, err = capsys.readouterr()
    logs = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    for where, text in (("stdout", out), ("stderr", err), ("log", logs)):
        assert leaks(text, secrets) == [], where
    return out + err


# ----- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture
def ready(sandbox: Sandbox) -> dict[str, Any]:
    """The `ready` org's credentials, on a freshly reset sandbox (a reset ends every session)."""
    sandbox.app.reset()
    return listed_org(sandbox, "ready")


@pytest.fixture
def session_login(sandbox: Sandbox, ready: dict[str, Any]) -> tuple[str, str]:
    """A real session id and instance URL, taken as an admin would from `sf org display`."""
    from simple_salesforce import Salesforce

    session = requests.Session()
    mount_sandbox(session, sandbox.url)
    sf = Salesforce(
        username=ready["salesforce"]["username"],
        password=ready["salesforce"]["password"],
        security_token=ready["salesforce"]["security_token"],
        session=session,
    )
    return str(sf.session_id), f"https://{sf.sf_instance}"


@pytest.fixture
def secrets(ready: dict[str, Any], session_login: tuple[str, str]) -> dict[str, str]:
    sf, lsq = ready["salesforce"], ready["leadsquared"]
    values = {
        "sf_password": sf["password"],
        "sf_security_token": sf["security_token"],
        "sf_consumer_secret": sf["consumer_secret"],
        "sf_private_key": sf["jwt_private_key"],
        "sf_access_token": session_login[0],
        "lsq_access_key": lsq["access_key"],
        "lsq_secret_key": lsq["secret_key"],
    }
    for name, value in values.items():
        assert len(value) >= 12, name  # distinctive enough for a substring scan
    return values


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


class Provider:
    """Puts each secret where a reference of a given kind points, and returns the reference."""

    def __init__(
        self,
        folder: Path,
        monkeypatch: pytest.MonkeyPatch,
        secrets: dict[str, str],
        backend: MemoryKeyring | None = None,
    ) -> None:
        self.folder, self.monkeypatch, self.secrets, self.backend = folder, monkeypatch, secrets, backend
        folder.mkdir(exist_ok=True)

    def ref(self, kind: str, name: str) -> str:
        value = self.secrets[name]
        if kind == "env":
            var = f"LEAKMX_{name.upper()}"
            self.monkeypatch.setenv(var, value)
            return f"env:{var}"
        if kind == "file":
            path = self.folder / name
            path.write_text(value if value.endswith("\n") else value + "\n")
            path.chmod(0o600)
            return f"file:{path}"
        assert kind == "keyring" and self.backend is not None
        self.backend.set_password(KEYRING_SERVICE, name, value)
        return f"keyring:{KEYRING_SERVICE}/{name}"


def org_entry(
    label: str, mode: str, kind: str, provider: Provider, ready: dict[str, Any], instance_url: str
) -> str:
    """One org (a list item of an orgs file) logging in with `mode`, every secret a `kind` reference."""
    sf = ready["salesforce"]
    ref = provider.ref
    if mode == "password":
        block = (
            f"login: production, auth: password, username: {sf['username']}, "
            f"password: '{ref(kind, 'sf_password')}', security_token: '{ref(kind, 'sf_security_token')}'"
        )
    elif mode == "client_credentials":
        block = (
            f"login: 'https://{sf['my_domain']}', auth: client_credentials, "
            f"consumer_key: {sf['consumer_key']}, consumer_secret: '{ref(kind, 'sf_consumer_secret')}'"
        )
    elif mode == "jwt":
        block = (
            f"login: production, auth: jwt, username: {sf['username']}, "
            f"consumer_key: {sf['jwt_consumer_key']}, private_key: '{ref(kind, 'sf_private_key')}'"
        )
    else:
        block = (
            f"login: production, auth: access_token, instance_url: '{instance_url}', "
            f"access_token: '{ref(kind, 'sf_access_token')}'"
        )
    lsq = (
        f"region: sg, access_key: '{ref(kind, 'lsq_access_key')}', "
        f"secret_key: '{ref(kind, 'lsq_secret_key')}'"
    )
    return f"- org: {label}\n  salesforce: {{{block}}}\n  leadsquared: {{{lsq}}}\n{CONNECTOR}"


def lightning_on(sandbox: Sandbox, ready: dict[str, Any]) -> None:
    """Switch the ready org's admin to Lightning Experience behind lsqsf's back."""
    from simple_salesforce import Salesforce

    session = requests.Session()
    mount_sandbox(session, sandbox.url)
    sf = ready["salesforce"]
    client = Salesforce(
        username=sf["username"], password=sf["password"], security_token=sf["security_token"], session=session
    )
    user = client.query(f"SELECT Id FROM User WHERE Username = '{sf['username']}'")["records"][0]
    client.User.update(user["Id"], {"UserPreferencesLightningExperiencePreferred": True})


def orgs_file(path: Path, entries: list[str]) -> Path:
    path.write_text("orgs:\n" + "".join(entries))
    return path


def test_the_scan_finds_every_form(secrets: dict[str, str]) -> None:
    """The scan is worth something: each secret is found raw, JSON-escaped, URL-encoded, and the key
    by any one line of its body; and these secrets do differ in those forms."""
    for name, value in secrets.items():
        for text in (f"x{value}x", json.dumps({"k": value}), f"?q={quote(value, safe='')}"):
            assert leaks(text, {name: value}) == [name]
    pem = secrets["sf_private_key"]
    body = [line for line in pem.splitlines() if line and "PRIVATE KEY" not in line]
    assert len(body) > 3 and leaks(f"...{body[2]}...", secrets) == ["sf_private_key"]
    assert json.dumps(pem)[1:-1] != pem and quote(pem, safe="") != pem
    assert any(quote(v, safe="") != v for k, v in secrets.items() if k != "sf_private_key")


# ----- the matrix -----------------------------------------------------------------------------------------
def test_check_every_field_and_kind_never_leaks(
    sandbox: Sandbox,
    tmp_path: Path,
    ready: dict[str, Any],
    secrets: dict[str, str],
    session_login: tuple[str, str],
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`lsqsf check -v --apply --json --audit`: 4 auth modes x env/file/keyring = 12 orgs, every field."""
    caplog.set_level(logging.DEBUG)
    provider = Provider(tmp_path / "secret-files", monkeypatch, secrets, memory_keyring)
    lightning_on(sandbox, ready)  # so the first org's --apply makes a change and the audit log gets a line
    entries = [
        org_entry(f"{mode.replace('_', '-')}-{kind}", mode, kind, provider, ready, session_login[1])
        for kind in ("env", "file", "keyring")
        for mode in MODES
    ]
    path = orgs_file(tmp_path / "orgs.yaml", entries)
    record_path, audit = tmp_path / "out" / "record.json", tmp_path / "out" / "audit.jsonl"
    record_path.parent.mkdir()
    code = main(
        [
            *("-v", "check", str(path), "--apply", "--sandbox", sandbox.url),
            *("--json", str(record_path), "--audit", str(audit)),
        ]
    )
    console = scan_console(capsys, caplog, secrets)
    assert code == 0, console[-3000:]
    record = json.loads(record_path.read_text())
    assert len(record["orgs"]) == 12 and all(org["ready"] for org in record["orgs"]), console[-3000:]
    assert caplog.records, "nothing logged at DEBUG: the scan would prove nothing"
    scanned = scan_tree(tmp_path, secrets, skip=provider.folder)
    assert record_path in scanned
    assert "keyring:lsqsf-leak-matrix/lsq_access_key" in record_path.read_text()
    assert audit in scanned and "classic_view" in audit.read_text()


def test_run_batch_and_report_never_leak(
    sandbox: Sandbox,
    tmp_path: Path,
    ready: dict[str, Any],
    secrets: dict[str, str],
    session_login: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """`lsqsf run` (one org) and `lsqsf batch --workers 2` + `lsqsf report`: env: and file: only
    (the kernels are subprocesses: an in-process keyring backend is not theirs). capfd: the kernels'
    own stdout/stderr are scanned too."""
    monkeypatch.delenv("LSQSF_READ_TIMEOUT", raising=False)
    caplog.set_level(logging.DEBUG)
    provider = Provider(tmp_path / "secret-files", monkeypatch, secrets)
    url = session_login[1]

    # lsqsf run: password auth, every secret by env:; the batch below covers the rest
    one = tmp_path / "one.yaml"
    one.write_text(
        org_entry("run-password-env", "password", "env", provider, ready, url)[2:].replace("\n  ", "\n")
    )
    run_out = tmp_path / "run-out"
    code = main(["run", str(one), "--out", str(run_out), "--sandbox", sandbox.url])
    console = scan_console(capfd, caplog, secrets)
    assert code == 0, console[-3000:]
    run_record = json.loads((run_out / "run-password-env.json").read_text())
    assert [s["id"] for s in run_record["steps"]] == list(STEP_IDS)
    assert {s["status"] for s in run_record["steps"]} == {"ok", "manual"}, run_record["steps"]

    # lsqsf batch: the other auth modes x env:/file:, two kernels at a time
    labels = {
        f"batch-{mode.replace('_', '-')}-{kind}": (mode, kind)
        for mode in MODES
        for kind in ("env", "file")
        if (mode, kind) != ("password", "env")
    }
    entries = [org_entry(label, mode, kind, provider, ready, url) for label, (mode, kind) in labels.items()]
    path = orgs_file(tmp_path / "orgs.yaml", entries)
    batch_out = tmp_path / "batch-out"
    code = main(["batch", str(path), "--out", str(batch_out), "--sandbox", sandbox.url, "--workers", "2"])
    console = scan_console(capfd, caplog, secrets)
    assert code == 0, console[-3000:]
    for label in labels:
        record = json.loads((batch_out / label / "record.json").read_text())
        assert not record.get("error"), (label, record.get("error"))
        assert {s["status"] for s in record["steps"]} == {"ok", "manual"}, (label, record["steps"])
        assert (batch_out / label / "notebook.ipynb").is_file()

    # lsqsf report: rebuilt from the records alone
    (batch_out / "report.html").unlink()
    assert main(["report", str(batch_out)]) == 0
    scan_console(capfd, caplog, secrets)
    assert (batch_out / "report.html").is_file()

    scanned = scan_tree(tmp_path, secrets, skip=provider.folder)
    names = {p.name for p in scanned}
    assert {
        "notebook.ipynb",
        "record.json",
        "report.html",
        "summary.csv",
        "summary.json",
        "batch.json",
    } <= names
    assert {"run-password-env.ipynb", "run-password-env.json"} <= names


def test_prompt_is_refused_headless(
    sandbox: Sandbox,
    tmp_path: Path,
    ready: dict[str, Any],
    secrets: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    provider = Provider(tmp_path / "secret-files", monkeypatch, secrets)
    entry = org_entry("prompted", "password", "env", provider, ready, "")
    path = orgs_file(tmp_path / "orgs.yaml", [entry.replace("'env:LEAKMX_SF_PASSWORD'", "prompt")])
    code = main(["check", str(path), "--sandbox", sandbox.url, "--json", str(tmp_path / "r.json")])
    console = scan_console(capsys, caplog, secrets)
    assert code == 2, console
    assert "interactive" in console and "salesforce.password" in console
    scan_tree(tmp_path, secrets, skip=provider.folder)


# ----- the interactive path ---------------------------------------------------------------------------
def walk(widget: Any) -> Iterator[Any]:
    yield widget
    for child in getattr(widget, "children", ()):
        yield from walk(child)


def find(root: Any, css: str) -> Any:
    found = [w for w in walk(root) if css in getattr(w, "_dom_classes", ())]
    assert len(found) == 1, f"expected one widget with class {css}, found {len(found)}"
    return found[0]


BASE = {
    "org": "leak-interactive",
    "connector_package_version_id": "04tFAKE0LSQ0001",
    "connector_namespace": "lsqfake",
    "sf_login": "production",
    "sf_auth": "password",
    "sf_username": "someone@example.com",
    "sf_password": "prompt",
    "sf_security_token": "prompt",
    "lsq_region": "sg",
    "lsq_access_key": "prompt",
    "lsq_secret_key": "prompt",
}


def scan_widgets(roots: list[Any], run: NotebookRun, secrets: dict[str, str]) -> None:
    for root in roots:
        for widget in walk(root):
            state = json.dumps(widget.get_state(), default=str)
            assert leaks(state, secrets) == [], repr(type(widget))
            assert leaks(repr(widget), secrets) == [], repr(type(widget))
    record = run.record()
    assert leaks(json.dumps(record.as_dict(), default=str) + repr(record), secrets) == []


def test_interactive_typed_and_keyring_secrets_never_leak(
    sandbox: Sandbox,
    tmp_path: Path,
    ready: dict[str, Any],
    secrets: dict[str, str],
    session_login: tuple[str, str],
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """NotebookRun(interactive=True) + the form: every secret field typed (prompt) in each auth mode,
    then every field as a keyring: reference."""
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.DEBUG)
    sf = ready["salesforce"]
    run = NotebookRun(BASE | {"sf_username": sf["username"]}, sandbox=sandbox.url, interactive=True)
    form, board = ui.runbook_form(run), ui.checklist(run)
    panels = [ui.step_panel(run, step) for step in STEP_IDS]
    roots = [form, board, *panels]

    settings = {
        "password": {"sf_login": "production", "sf_username": sf["username"]},
        "client_credentials": {
            "sf_login": f"https://{sf['my_domain']}",
            "sf_consumer_key": sf["consumer_key"],
        },
        "jwt": {
            "sf_login": "production",
            "sf_username": sf["username"],
            "sf_consumer_key": sf["jwt_consumer_key"],
        },
        "access_token": {"sf_login": "production", "sf_instance_url": session_login[1]},
    }
    typed_fields = {
        "password": ("sf_password", "sf_security_token"),
        "client_credentials": ("sf_consumer_secret",),
        "jwt": ("sf_private_key",),
        "access_token": ("sf_access_token",),
    }
    for mode in MODES:
        find(form, "lsqsf-field-sf_auth").value = mode
        for name, value in settings[mode].items():
            find(form, f"lsqsf-field-{name}").value = value
        for name in (*typed_fields[mode], "lsq_access_key", "lsq_secret_key"):
            find(form, f"lsqsf-typed-{name}").value = secrets[name]
        find(form, "lsqsf-use").click()
        shown = str(find(form, "lsqsf-form-status").value)
        assert "Settings in use" in shown, (mode, shown)
        statuses = {r.step: str(r.status) for r in run.check_all()}
        assert statuses["prerequisites"] == statuses["leadsquared_keys"] == "ok", (mode, statuses)
        for name in (*typed_fields[mode], "lsq_access_key", "lsq_secret_key"):
            assert find(form, f"lsqsf-typed-{name}").value == ""
            assert run.flat_params[name] == "prompt", (mode, name)
        scan_widgets(roots, run, secrets)

    # keyring: references for every field, in-process
    provider = Provider(tmp_path / "secret-files", monkeypatch, secrets, memory_keyring)
    for mode in MODES:
        params: dict[str, Any] = {
            k: v for k, v in BASE.items() if k not in ("sf_username", "sf_password", "sf_security_token")
        }
        params |= {"sf_auth": mode, **settings[mode]}
        for name in (*typed_fields[mode], "lsq_access_key", "lsq_secret_key"):
            params[name] = provider.ref("keyring", name)
        keyed = NotebookRun(params, sandbox=sandbox.url, interactive=True)
        keyed_roots = [ui.runbook_form(keyed), ui.checklist(keyed)]
        statuses = {r.step: str(r.status) for r in keyed.check_all()}
        assert statuses["prerequisites"] == statuses["leadsquared_keys"] == "ok", (mode, statuses)
        scan_widgets(keyed_roots, keyed, secrets)

    scan_console(capsys, caplog, secrets)
    scan_tree(tmp_path, secrets, skip=provider.folder)
