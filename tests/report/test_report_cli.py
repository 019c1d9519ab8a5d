"""`lsqsf report DIR`: rebuilds the summary files, prints the verdict line and the report's path;
exit 0 when every org is ready, 1 otherwise, 2 when DIR is missing or holds no record."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from report_batches import ROOT, MakeBatch, Record

from lsqsf_helpers.cli import main


def test_exit_0_when_every_org_is_ready(
    make_batch: MakeBatch, sandbox_records: list[Record], capsys: pytest.CaptureFixture[str]
) -> None:
    ready = [r for r in sandbox_records if r["ready"]]
    out = make_batch(ready, broken=False)
    assert main(["report", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        f"{len(ready)} orgs: {len(ready)} ready, 0 not ready, 0 failed",
        f"report: {out / 'report.html'}",
    ]
    assert {p.name for p in out.iterdir() if p.is_file()} >= {"summary.json", "summary.csv", "report.html"}


def test_exit_1_when_some_org_is_not_ready_or_failed(
    make_batch: MakeBatch, sandbox_records: list[Record], capsys: pytest.CaptureFixture[str]
) -> None:
    out = make_batch()
    assert main(["report", str(out)]) == 1
    assert "2 failed" in capsys.readouterr().out
    only_failed = make_batch([r for r in sandbox_records if r["ready"]], name="with-a-crash")
    assert main(["report", str(only_failed)]) == 1


@pytest.mark.parametrize("case", ["missing", "empty", "file", "no-record"])
def test_exit_2_when_dir_is_missing_or_holds_no_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    target = tmp_path / "runs"
    if case == "empty":
        target.mkdir()
    elif case == "file":
        target.write_text("not a folder")
    elif case == "no-record":
        (target / "acme" / "notes").mkdir(parents=True)
        (target / "batch.json").write_text("{}")
    assert main(["report", str(target)]) == 2
    captured = capsys.readouterr()
    assert str(target) in captured.err and "Traceback" not in captured.err
    assert captured.out == ""
    assert not (target / "report.html").exists()


def test_as_a_process(make_batch: MakeBatch, sandbox_records: list[Record]) -> None:
    out = make_batch(sandbox_records[:3])
    result = subprocess.run(
        [sys.executable, "-m", "lsqsf_helpers", "report", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout.endswith(f"report: {out / 'report.html'}\n")
    assert result.stderr == ""
