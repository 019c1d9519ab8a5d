"""`--audit PATH` on `lsqsf batch` and `lsqsf run`: every change an apply run made, one JSON line each,
appended to a private log; nothing for a check run or for orgs already fixed; a bad path refused first."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from sandboxkit import write_org, write_orgs

from lsqsf_helpers.cli import main
from lsqsf_helpers.sandbox import Sandbox


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def apply_with_audit(command: str, target: Path, out: Path, sandbox: Sandbox, audit: Path) -> int:
    """`lsqsf run|batch TARGET --out OUT --sandbox URL --apply --audit AUDIT`, in-process; its exit code."""
    return main(
        [command, str(target), "--out", str(out), "--sandbox", sandbox.url, "--apply", "--audit", str(audit)]
    )


def test_batch_apply_appends_each_change_once(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.app.reset()
    orgs = write_orgs(tmp_path / "orgs.yaml", ["lightning", "ready"])
    audit = tmp_path / "audit.jsonl"
    batch = ["batch", str(orgs), "--sandbox", sandbox.url, "--audit", str(audit)]

    assert main([*batch, "--out", str(tmp_path / "check")]) in (0, 1)
    assert not audit.exists()  # a check changes nothing, so logs nothing

    assert main([*batch, "--out", str(tmp_path / "apply"), "--apply"]) in (0, 1)
    first = lines(audit)
    assert [(e["org"], e["mode"], e["step"]) for e in first] == [("lightning", "apply", "classic_view")]
    assert (first[0]["before"], first[0]["after"]) == (True, False)
    assert stat.S_IMODE(audit.stat().st_mode) == 0o600
    record = json.loads((tmp_path / "apply" / "lightning" / "record.json").read_text())
    assert first[0]["run_started"] == record["started"]

    before = audit.read_bytes()
    assert main([*batch, "--out", str(tmp_path / "again"), "--apply"]) == 0  # all fixed: nothing to add
    assert audit.read_bytes() == before
    assert main([*batch, "--out", str(tmp_path / "apply"), "--apply", "--resume"]) == 0
    assert audit.read_bytes() == before  # orgs finished earlier are not logged twice


def test_run_apply_appends_its_changes(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.app.reset()
    org = write_org(tmp_path / "org.yaml", "lightning")
    audit = tmp_path / "audit.jsonl"
    assert apply_with_audit("run", org, tmp_path / "out", sandbox, audit) in (0, 1)
    assert [(e["org"], e["step"]) for e in lines(audit)] == [("lightning", "classic_view")]


@pytest.mark.parametrize("command", ["batch", "run"])
def test_an_unwritable_audit_path_is_refused_before_anything_runs(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    if command == "batch":
        target = write_orgs(tmp_path / "orgs.yaml", ["lightning"])
    else:
        target = write_org(tmp_path / "org.yaml", "lightning")
    folder = tmp_path / "a-folder"
    folder.mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    calls = sandbox.app.calls.summary()["total"]
    code = apply_with_audit(command, target, tmp_path / "out", sandbox, folder)
    assert code == 2
    assert "--audit" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no out folder, no log
    assert sandbox.app.calls.summary()["total"] == calls  # no vendor call


def test_a_kernel_that_cannot_write_the_log_stops_after_the_change_it_could_not_log(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    from lsqsf_helpers.errors import Failure
    from lsqsf_helpers.notebook import NotebookRun

    sandbox.app.reset()
    params = {
        "org": "lightning",
        "sandbox_scenario": "lightning",
        "connector_package_version_id": "04tFAKE0LSQ0001",
        "connector_namespace": "lsqfake",
    }
    run = NotebookRun(params, apply=True, sandbox=sandbox.url, audit_path=str(tmp_path))  # a folder
    run.step("prerequisites")
    with pytest.raises(Failure) as caught:
        run.step("classic_view")
    assert f"the audit log {tmp_path} could not be written" in caught.value.message
    assert "the change to step classic_view was made" in caught.value.message
    assert "note the change shown in this step's result" in caught.value.remedy
    assert run.results["classic_view"].changes  # the result that could not be logged still shows it
    assert list(tmp_path.iterdir()) == []
