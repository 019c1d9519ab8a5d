"""`lsqsf run`: the runbook notebook under papermill, for every practice org, and its clean artifacts."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
import requests
from expectations import matrix, notebook_expectation

from lsqsf_helpers import headless
from lsqsf_helpers.checkrun import load_and_validate
from lsqsf_helpers.cli import main
from lsqsf_helpers.sandbox import Sandbox
from lsqsf_helpers.steps import STEP_IDS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "orgs.yaml"


def statuses_in_notebook(path: Path) -> dict[str, str]:
    """Read each step's status back from the executed notebook's text/plain outputs."""
    nb = nbformat.read(str(path), as_version=4)
    found = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue  # the checklist is printed by run.finish(), or where a failed prerequisite stopped the run
        for output in cell.outputs:
            text = output.get("data", {}).get("text/plain", "")
            for line in text.splitlines():
                if line.startswith("[") and "] " in line:
                    status, step = line[1:].split("] ", 1)
                    found[step] = status
    return found


@pytest.fixture(scope="module")
def runs(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> dict[str, headless.RunOutput]:
    sandbox.app.reset()
    out = tmp_path_factory.mktemp("runs")
    orgs = load_and_validate(EXAMPLES, sandbox_mode=True)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            org.label: pool.submit(headless.execute, org, out, apply=False, sandbox_url=sandbox.url)
            for org in orgs
        }
        return {label: future.result() for label, future in futures.items()}


@pytest.mark.parametrize("scenario", sorted(matrix()))
def test_every_scenario_headless(runs: dict[str, headless.RunOutput], scenario: str) -> None:
    expected = notebook_expectation(scenario)
    result = runs[scenario]
    record = json.loads(result.record.read_text())
    assert [s["id"] for s in record["steps"]] == list(STEP_IDS)
    assert {s["id"]: s["status"] for s in record["steps"]} == expected
    assert statuses_in_notebook(result.notebook) == expected
    assert record["ready"] is (scenario in ("ready", "flaky", "sandbox-org"))


def test_executed_notebook_is_clean(runs: dict[str, headless.RunOutput]) -> None:
    nb = nbformat.read(str(runs["fresh"].notebook), as_version=4)
    assert "widgets" not in nb.metadata
    params = nb.metadata["papermill"]["parameters"]
    assert params["interactive"] is False
    for name, value in params.items():
        if "password" in name or "secret" in name or "token" in name or name.endswith("_key"):
            assert value in ("", "prompt") or str(value).startswith(("env:", "file:", "keyring:")), name
    assert not list(runs["fresh"].notebook.parent.glob(".*.partial.ipynb"))


def test_secrets_never_reach_the_artifacts(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.app.reset()
    orgs = requests.get(f"{sandbox.url}/_sandbox/orgs", timeout=5).json()["orgs"]
    creds = next(o for o in orgs if o["org"] == "ready")
    sf, lsq = creds["salesforce"], creds["leadsquared"]
    secret_file = tmp_path / "lsq_secret"
    secret_file.write_text(lsq["secret_key"] + "\n")
    secret_file.chmod(0o600)
    monkeypatch.setenv("LEAKTEST_SF_PASSWORD", sf["password"])
    monkeypatch.setenv("LEAKTEST_SF_TOKEN", sf["security_token"])
    monkeypatch.setenv("LEAKTEST_LSQ_ACCESS", lsq["access_key"])
    org_file = tmp_path / "org.yaml"
    org_file.write_text(
        "org: leaktest\n"
        "salesforce:\n"
        "  login: production\n"
        "  auth: password\n"
        f"  username: {sf['username']}\n"
        "  password: env:LEAKTEST_SF_PASSWORD\n"
        "  security_token: env:LEAKTEST_SF_TOKEN\n"
        "leadsquared:\n"
        "  region: sg\n"
        "  access_key: env:LEAKTEST_LSQ_ACCESS\n"
        f"  secret_key: file:{secret_file}\n"
        "connector: {package_version_id: 04tFAKE0LSQ0001, namespace: lsqfake}\n"
    )
    out = tmp_path / "out"
    assert main(["run", str(org_file), "--out", str(out), "--sandbox", sandbox.url]) == 0
    values = [sf["password"], sf["security_token"], lsq["access_key"], lsq["secret_key"]]
    console = capsys.readouterr()
    for value in values:
        assert value not in console.out + console.err
    written = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in written} == {"leaktest.ipynb", "leaktest.json"}
    for path in written:
        text = path.read_text()
        for value in values:
            assert value not in text, path.name
            assert json.dumps(value)[1:-1] not in text, path.name


def test_leak_scan_fails_closed(tmp_path: Path) -> None:
    from lsqsf_helpers.leakscan import SecretLeak, guard
    from lsqsf_helpers.redact import Redactor

    redactor = Redactor()
    redactor.register("CANARY-8c1d-secret", label="test secret")
    clean, dirty = tmp_path / "a.json", tmp_path / "b.ipynb"
    clean.write_text("{}")
    dirty.write_text('{"x": "CANARY-8c1d-secret"}')
    with pytest.raises(SecretLeak) as caught:
        guard([clean, dirty], redactor)
    assert "CANARY-8c1d-secret" not in str(caught.value)
    assert "b.ipynb" in str(caught.value)
    assert not clean.exists() and not dirty.exists()


def test_help_notebook_lists_every_parameter() -> None:
    import papermill

    from lsqsf_helpers.notebook import PARAMETER_NAMES

    params = papermill.inspect_notebook(str(headless.NOTEBOOK))
    assert list(params) == list(PARAMETER_NAMES)
    for name, info in params.items():
        assert info["inferred_type_name"] in ("str", "bool"), name
        assert info["help"], name


def test_run_refuses_a_file_with_several_orgs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(EXAMPLES), "--out", str(tmp_path / "out"), "--sandbox"]) == 2
    assert "lsqsf run takes one" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_notebook_cells_hold_no_logic() -> None:
    nb = nbformat.read(str(headless.NOTEBOOK), as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code" or "parameters" in cell.metadata.get("tags", []):
            continue
        for keyword in ("for ", "while ", "if ", "requests", "http", "def ", "lambda"):
            assert keyword not in cell.source, (keyword, cell.source)
    assert os.path.basename(headless.NOTEBOOK) == "runbook.ipynb"


def test_run_refuses_a_bad_read_timeout_before_any_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    org_file = tmp_path / "org.yaml"
    org_file.write_text(
        "org: ready\nsandbox_scenario: ready\nconnector: {package_version_id: 04tFAKE0LSQ0001, namespace: lsqfake}\n"
    )
    monkeypatch.setenv("LSQSF_READ_TIMEOUT", "soon")
    assert main(["run", str(org_file), "--out", str(tmp_path / "out"), "--sandbox"]) == 2
    assert "LSQSF_READ_TIMEOUT" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
