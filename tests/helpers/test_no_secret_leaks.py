"""No secret value given through env: or file: references appears anywhere a `lsqsf check` run writes:
stdout, stderr, log lines down to DEBUG (pytest's capture and a file handler), the JSON record.

Two runs per auth mode: with the sandbox's real (fake) credentials, so every call succeeds and the
secrets travel the whole way; and with distinctive wrong values, so they travel into every failure
message too. Each secret is looked for raw and in the forms it takes once serialised."""

from __future__ import annotations

import html
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from sandboxkit import listed_org

from lsqsf_helpers import connect
from lsqsf_helpers.cli import main
from lsqsf_helpers.redact import MASK
from lsqsf_helpers.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
CONNECTOR = "  connector: {package_version_id: 04tFAKE0LSQ0001, namespace: lsqfake}\n"
CANARIES = {
    "LEAK_SF_PASSWORD": "LEAKCANARY-sfpw-7f3a",
    "LEAK_SF_TOKEN": "LEAKCANARY-sftok-2c91",
    "LEAK_SF_CONSUMER_SECRET": "LEAKCANARY-sfcs-4e0d",
    "LEAK_LSQ_ACCESS_KEY": "LEAKCANARY-lsqak-81b7",
    "LEAK_LSQ_SECRET_KEY": "LEAKCANARY-lsqsk-c5a2",
    "jwt.pem": "LEAKCANARY-jwtkey-93f0",
}


def forms(secret: str) -> set[str]:
    """The secret raw, JSON-escaped, URL-encoded and XML-escaped; for a PEM key also each body line."""
    found = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        html.escape(secret),
    }
    found.update(line for line in secret.splitlines() if len(line) >= 40 and "PRIVATE KEY" not in line)
    return found


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    """Names of the secrets found in text (never the values: this goes into assertion messages)."""
    return sorted(name for name, value in secrets.items() for form in forms(value) if form in text)


def org_file(folder: Path, sandbox_sf: dict[str, Any]) -> Path:
    """One org per auth mode that can log in again; every secret is an env: or file: reference."""
    lsq = (
        "  leadsquared: {region: sg, access_key: env:LEAK_LSQ_ACCESS_KEY, "
        f"secret_key: file:{folder}/lsq_secret_key}}\n"
    )
    text = (
        "orgs:\n"
        "- org: by-password\n"
        f"  salesforce: {{login: production, auth: password, username: {sandbox_sf['username']},"
        f" password: env:LEAK_SF_PASSWORD, security_token: file:{folder}/sf_token}}\n"
        f"{lsq}{CONNECTOR}"
        "- org: by-client-credentials\n"
        f"  salesforce: {{login: 'https://{sandbox_sf['my_domain']}', auth: client_credentials,"
        f" consumer_key: {sandbox_sf['consumer_key']}, consumer_secret: env:LEAK_SF_CONSUMER_SECRET}}\n"
        f"{lsq}{CONNECTOR}"
        "- org: by-jwt\n"
        f"  salesforce: {{login: production, auth: jwt, username: {sandbox_sf['username']},"
        f" consumer_key: {sandbox_sf['jwt_consumer_key']}, private_key: file:{folder}/jwt.pem}}\n"
        f"{lsq}{CONNECTOR}"
    )
    path = folder / "orgs.yaml"
    path.write_text(text)
    return path


def provide(folder: Path, monkeypatch: pytest.MonkeyPatch, secrets: dict[str, str]) -> None:
    """Put each secret where the org file's references point: env variables and chmod 600 files."""
    files = {"LEAK_SF_TOKEN": "sf_token", "LEAK_LSQ_SECRET_KEY": "lsq_secret_key", "jwt.pem": "jwt.pem"}
    for name, value in secrets.items():
        if name in files:
            path = folder / files[name]
            path.write_text(value if value.endswith("\n") else value + "\n")
            path.chmod(0o600)
        else:
            monkeypatch.setenv(name, value)


@pytest.fixture
def ready(sandbox: Sandbox) -> dict[str, Any]:
    sandbox.app.reset()
    return listed_org(sandbox, "ready")


@pytest.fixture
def real_secrets(ready: dict[str, Any]) -> dict[str, str]:
    sf, lsq = ready["salesforce"], ready["leadsquared"]
    return {
        "LEAK_SF_PASSWORD": sf["password"],
        "LEAK_SF_TOKEN": sf["security_token"],
        "LEAK_SF_CONSUMER_SECRET": sf["consumer_secret"],
        "LEAK_LSQ_ACCESS_KEY": lsq["access_key"],
        "LEAK_LSQ_SECRET_KEY": lsq["secret_key"],
        "jwt.pem": sf["jwt_private_key"],
    }


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    """A DEBUG file handler on the root logger, as an operator's logging config might add."""
    path = tmp_path / "logs" / "debug.log"
    path.parent.mkdir()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        handler.close()


def run_and_collect(
    folder: Path,
    sandbox: Sandbox,
    log_file: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    ready_sf: dict[str, Any],
) -> tuple[int, dict[str, str], dict[str, Any]]:
    caplog.set_level(logging.DEBUG)
    record_path = folder / "record.json"
    code = main(
        ["-v", "check", str(org_file(folder, ready_sf)), "--sandbox", sandbox.url, "--json", str(record_path)]
    )
    out, err = capsys.readouterr()
    for handler in logging.getLogger().handlers:
        handler.flush()
    record_text = record_path.read_text()
    artifacts = {
        "stdout": out,
        "stderr": err,
        "caplog": caplog.text + "\n".join(r.getMessage() for r in caplog.records),
        "log file": log_file.read_text(),
        "json record": record_text,
    }
    return code, artifacts, json.loads(record_text)


def test_real_secrets_work_and_never_appear(
    sandbox: Sandbox,
    tmp_path: Path,
    ready: dict[str, Any],
    real_secrets: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    log_file: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    provide(tmp_path, monkeypatch, real_secrets)
    code, artifacts, record = run_and_collect(
        tmp_path, sandbox, log_file, caplog, capsys, ready["salesforce"]
    )

    assert code == 0, artifacts["stdout"]
    assert [org["ready"] for org in record["orgs"]] == [True, True, True]
    assert caplog.records, "the run logged nothing at DEBUG: the scan would prove nothing"
    for where, text in artifacts.items():
        assert leaks(text, real_secrets) == [], where
    # the references themselves are fine to show
    assert "env:LEAK_LSQ_ACCESS_KEY" in artifacts["json record"]


def test_wrong_secrets_fail_clearly_and_never_appear(
    sandbox: Sandbox,
    tmp_path: Path,
    ready: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    log_file: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    provide(tmp_path, monkeypatch, CANARIES)
    code, artifacts, record = run_and_collect(
        tmp_path, sandbox, log_file, caplog, capsys, ready["salesforce"]
    )

    assert code == 1, artifacts["stderr"]
    assert "internal error" not in artifacts["stderr"]
    for org in record["orgs"]:
        steps = {step["id"]: step for step in org["steps"]}
        assert steps["prerequisites"]["status"] == "failed", org["org"]
        assert steps["prerequisites"]["remedy"], org["org"]
        assert steps["leadsquared_keys"]["status"] == "action_needed", org["org"]
        assert steps["leadsquared_keys"]["remedy"], org["org"]
    for where, text in artifacts.items():
        assert leaks(text, CANARIES) == [], where


def test_every_log_line_is_redacted_in_process(
    sandbox: Sandbox,
    tmp_path: Path,
    ready: dict[str, Any],
    real_secrets: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    log_file: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A careless debug line that logs a resolved secret is still masked by the CLI's RedactingFilter."""
    careless = logging.getLogger("lsqsf_helpers.careless")
    original = connect.resolve

    def resolve_and_log(*args: Any, **kwargs: Any) -> str:
        value = original(*args, **kwargs)
        careless.debug("resolved %s to %s", args[1], value)
        return value

    monkeypatch.setattr(connect, "resolve", resolve_and_log)
    provide(tmp_path, monkeypatch, real_secrets)
    code, artifacts, _ = run_and_collect(tmp_path, sandbox, log_file, caplog, capsys, ready["salesforce"])

    assert code == 0
    assert f"resolved salesforce.password to {MASK}" in artifacts["log file"]
    assert f"resolved leadsquared.access_key to {MASK}" in caplog.text
    for where, text in artifacts.items():
        assert leaks(text, real_secrets) == [], where


_CARELESS_CLI = """
import logging, sys
from lsqsf_helpers import cli, connect
original = connect.resolve
def resolve_and_log(*args, **kwargs):
    value = original(*args, **kwargs)
    logging.getLogger("lsqsf_helpers.careless").warning("resolved %s to %s", args[1], value)
    return value
connect.resolve = resolve_and_log
raise SystemExit(cli.main(sys.argv[1:]))
"""


def test_verbose_cli_process_redacts_its_log_lines(
    sandbox: Sandbox,
    tmp_path: Path,
    ready: dict[str, Any],
    real_secrets: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same in a real process with -v: logging.basicConfig's stderr handler gets the filter too."""
    monkeypatch.delenv("LSQSF_READ_TIMEOUT", raising=False)
    provide(tmp_path, monkeypatch, real_secrets)
    path = org_file(tmp_path, ready["salesforce"])
    result = subprocess.run(
        [sys.executable, "-c", _CARELESS_CLI, "-v", "check", str(path), "--sandbox", sandbox.url],
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"resolved salesforce.password to {MASK}" in result.stderr
    assert "Traceback" not in result.stderr
    for where, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        assert leaks(text, real_secrets) == [], where
