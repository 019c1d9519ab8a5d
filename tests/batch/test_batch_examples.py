"""`lsqsf batch` over examples/orgs.yaml (one practice org per scenario), two kernels at a time.

One batch, shared by every test of the module: each org's record and executed notebook against the
documented matrix, batch.json, the summary files, the console, and what the sandbox saw.
"""

from __future__ import annotations

import csv
import io
import re
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from batchkit import EXAMPLES, calls, statuses
from expectations import matrix, notebook_expectation
from sandboxkit import leftovers, read_json

from lsqsf_helpers.cli import main
from lsqsf_helpers.params import load_org_file
from lsqsf_helpers.sandbox import Sandbox
from lsqsf_helpers.steps import STEP_IDS

SCENARIOS = sorted(matrix())
READY = {"ready", "flaky", "sandbox-org"}


@dataclass
class Batch:
    out: Path
    code: int
    stdout: str
    stderr: str
    calls: dict[str, Any]


@pytest.fixture(scope="module")
def batch(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Batch:
    sandbox.app.reset()
    out = tmp_path_factory.mktemp("batch") / "out"
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        code = main(["batch", str(EXAMPLES), "--out", str(out), "--sandbox", sandbox.url, "--workers", "2"])
    return Batch(out, code, stdout.getvalue(), stderr.getvalue(), calls(sandbox))


def test_exit_code_is_1_because_some_orgs_are_not_ready(batch: Batch) -> None:
    assert batch.code == 1, batch.stderr


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_org_has_its_record_and_notebook(batch: Batch, scenario: str) -> None:
    folder = batch.out / scenario
    assert sorted(p.name for p in folder.iterdir()) == ["notebook.ipynb", "record.json"]
    record = read_json(folder / "record.json")
    assert record["schema"] == "lsqsf.run/1"
    assert record["org"] == scenario
    assert record["mode"] == "check"
    assert record["error"] == ""
    assert [s["id"] for s in record["steps"]] == list(STEP_IDS)
    assert statuses(record) == notebook_expectation(scenario)
    assert record["ready"] is (scenario in READY)
    nb = nbformat.read(str(folder / "notebook.ipynb"), as_version=4)
    assert "widgets" not in nb.metadata
    assert nb.metadata["papermill"]["parameters"]["org"] == scenario
    # a failed prerequisite ends the run with sys.exit(0), which papermill notes as an exception
    assert bool(nb.metadata["papermill"]["exception"]) is (statuses(record)["prerequisites"] == "failed")


def test_batch_json_describes_the_run(batch: Batch) -> None:
    data = read_json(batch.out / "batch.json")
    assert data["schema"] == "lsqsf.batch/1"
    assert data["mode"] == "check"
    assert data["workers"] == 2
    assert data["scheduler"] is None
    assert data["orgs_file"] == "orgs.yaml"
    assert data["sandbox"] is True
    assert data["interrupted"] is False
    assert data["resumed"] is False
    assert data["orgs"] == [org.label for org in load_org_file(EXAMPLES)]  # file order
    assert data["not_finished"] == []
    assert data["lsqsf_version"]
    assert data["started"] <= data["finished"]
    assert 0 < data["duration"] < 300


def test_every_org_ran_once_against_the_sandbox(batch: Batch) -> None:
    by_org = batch.calls["by_org"]
    for scenario in SCENARIOS:
        assert sum(by_org.get(scenario, {}).values()) > 0, scenario


def test_no_temporary_file_is_left(batch: Batch) -> None:
    assert leftovers(batch.out) == []
    assert sorted(p.name for p in batch.out.iterdir() if p.is_file()) == [
        "batch.json",
        "report.html",
        "summary.csv",
        "summary.json",
    ]


def test_console_has_one_verdict_line_per_org_and_the_report_path(batch: Batch) -> None:
    for scenario in SCENARIOS:
        verdict = "READY" if scenario in READY else "NOT READY"
        assert re.search(rf"^{re.escape(scenario)} \(check\): {verdict}$", batch.stdout, re.M), scenario
    assert f"Report: {(batch.out / 'report.html').resolve()}" in batch.stdout
    assert "Traceback" not in batch.stdout + batch.stderr
    # not a terminal: plain progress lines on stderr, the last one complete
    assert "[batch] 12/12 done, 9 not ready, 0 failed" in batch.stderr


def test_summary_files_list_every_org(batch: Batch) -> None:
    summary = read_json(batch.out / "summary.json")
    by_org = {org["org"]: org for org in summary["orgs"]}
    assert set(by_org) == set(SCENARIOS)
    for scenario, org in by_org.items():
        assert org["ready"] is (scenario in READY)
        assert org["notebook"] == f"{scenario}/notebook.ipynb"
    rows = list(csv.DictReader(io.StringIO((batch.out / "summary.csv").read_text())))
    assert {row["org"]: row["ready"] for row in rows} == {s: str(s in READY).lower() for s in SCENARIOS}
    for row in rows:
        assert {step: row[step] for step in STEP_IDS} == notebook_expectation(row["org"])
    html = (batch.out / "report.html").read_text()
    for scenario in SCENARIOS:
        assert f"{scenario}/notebook.ipynb" in html


def test_the_same_folder_is_refused_without_resume(batch: Batch, capsys: pytest.CaptureFixture[str]) -> None:
    before = {p: p.stat().st_mtime_ns for p in batch.out.rglob("*")}
    assert main(["batch", str(EXAMPLES), "--out", str(batch.out), "--sandbox", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "--resume" in err
    assert {p: p.stat().st_mtime_ns for p in batch.out.rglob("*")} == before


def test_resume_of_a_finished_batch_runs_nothing(
    batch: Batch, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    records = {s: (batch.out / s / "record.json").read_bytes() for s in SCENARIOS}
    before = calls(sandbox)["total"]
    code = main(["batch", str(EXAMPLES), "--out", str(batch.out), "--sandbox", sandbox.url, "--resume"])
    assert code == 1
    assert calls(sandbox)["total"] == before
    assert {s: (batch.out / s / "record.json").read_bytes() for s in SCENARIOS} == records
    assert "0 run now, 12 from an earlier run" in capsys.readouterr().out
    assert read_json(batch.out / "batch.json")["resumed"] is True
