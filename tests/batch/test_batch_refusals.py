"""Bad input is refused before anything runs: exit 2, no output folder, no vendor call."""

from __future__ import annotations

from pathlib import Path

import pytest
from batchkit import calls
from sandboxkit import CONNECTOR, write_orgs

from lsqsf_helpers.cli import main
from lsqsf_helpers.sandbox import Sandbox

GOOD = f"  - {{org: ready, sandbox_scenario: ready, connector: {CONNECTOR}}}\n"
BAD_FILES = {
    "duplicate label": ("orgs:\n" + GOOD + GOOD, "orgs[1].org"),
    "malformed entry": ("orgs:\n" + GOOD + "  - 12\n", "orgs[1]"),
    "unknown key": ("orgs:\n" + GOOD + f"  - {{org: b, colour: red, connector: {CONNECTOR}}}\n", "colour"),
    "missing secret": (
        "orgs:\n"
        + GOOD
        + "  - org: real\n"
        + "    salesforce: {login: production, auth: password, username: a@b.com,"
        + " password: env:LSQSF_TEST_UNSET_PASSWORD}\n"
        + "    leadsquared: {region: sg, access_key: env:LSQSF_TEST_UNSET_KEY, secret_key: env:LSQSF_TEST_UNSET_KEY}\n"
        + f"    connector: {CONNECTOR}\n",
        "LSQSF_TEST_UNSET_PASSWORD",
    ),
    "unknown scenario": (
        "orgs:\n" + GOOD + f"  - {{org: b, sandbox_scenario: nope, connector: {CONNECTOR}}}\n",
        "nope",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_orgs_file_runs_nothing(
    case: str,
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("LSQSF_TEST_UNSET_PASSWORD", raising=False)
    monkeypatch.delenv("LSQSF_TEST_UNSET_KEY", raising=False)
    text, named = BAD_FILES[case]
    orgs = tmp_path / "orgs.yaml"
    orgs.write_text(text)
    out = tmp_path / "out"
    before = calls(sandbox)["total"]
    assert main(["batch", str(orgs), "--out", str(out), "--sandbox", sandbox.url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lsqsf: error:") and named in err
    assert "Traceback" not in err
    assert not out.exists()
    assert calls(sandbox)["total"] == before


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--workers", "0"], "--workers"),
        (["--workers", "99"], "--workers"),
        (["--timeout", "0"], "--timeout"),
        (["--timeout", "nan"], "--timeout"),
        (["--scheduler", "http://127.0.0.1:8786"], "--scheduler"),
        (["--sandbox", "http://example.com:80"], "--sandbox"),
    ],
)
def test_bad_options_run_nothing(
    options: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    orgs = write_orgs(tmp_path / "orgs.yaml", ["ready"])
    out = tmp_path / "out"
    args = ["batch", str(orgs), "--out", str(out), *options]
    if "--sandbox" not in options:
        args.append("--sandbox")
    assert main(args) == 2
    assert named in capsys.readouterr().err
    assert not out.exists()


def test_an_out_path_that_is_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    orgs = write_orgs(tmp_path / "orgs.yaml", ["ready"])
    (tmp_path / "out").write_text("not a folder")
    assert main(["batch", str(orgs), "--out", str(tmp_path / "out"), "--sandbox"]) == 2
    assert "is not a folder" in capsys.readouterr().err
