"""`lsqsf run` when the run does not finish: a hung vendor, a failing cell, a dead kernel, bad --timeout.

Each ends the same way as an org of `lsqsf batch`: the notebook as far as it got (leak-scanned, under
its final name), a record with `error` set and no steps, no partial file, exit 1 and a remedy that
points at the notebook.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from processkit import kernels_of, start_lsqsf
from sandboxkit import leftovers, read_json, sandbox_calls, write_org

from lsqsf_helpers import headless
from lsqsf_helpers.checkrun import load_and_validate
from lsqsf_helpers.cli import main
from lsqsf_helpers.errors import Failure
from lsqsf_helpers.sandbox import Sandbox

CANARY = "CANARY-run-7f3e-secret-value"


def started_cells(notebook: Path) -> list[str]:
    """The sources of the code cells papermill started, in order."""
    nb = read_json(notebook)
    return [
        "".join(cell["source"])
        for cell in nb["cells"]
        if cell["cell_type"] == "code" and cell["metadata"]["papermill"].get("start_time")
    ]


def assert_error_record(record: Path, label: str, *fragments: str) -> dict[str, Any]:
    data = read_json(record)
    assert data["schema"] == "lsqsf.run/1" and data["org"] == label
    assert data["steps"] == [] and data["ready"] is False
    for fragment in fragments:
        assert fragment in data["error"], data["error"]
    return data


def notebook_with(tmp_path: Path, *sources: str) -> Path:
    """A notebook shaped like the runbook's head (a `parameters` cell), then the given code cells."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('org = ""\nrecord_path = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(source) for source in sources)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, str(path))
    return path


def test_a_hung_run_stops_at_its_timeout_and_keeps_where_it_stopped(
    sandbox: Sandbox,
    tmp_path: Path,
    faults: Callable[[dict[str, Any]], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox.app.reset()
    faults({"rate": 1, "kinds": ["delay"], "delay_seconds": 40, "orgs": ["ready"]})  # every call hangs
    out = tmp_path / "out"
    org_file = write_org(tmp_path / "org.yaml", "ready")
    code = main(["run", str(org_file), "--out", str(out), "--sandbox", sandbox.url, "--timeout", "8"])
    err = capsys.readouterr().err
    assert code == 1
    assert "lsqsf: error: timed out: the org did not finish within 8 s (--timeout)" in err
    assert f"remedy: see {out / 'ready.ipynb'} for the step that hung" in err and "Traceback" not in err
    data = assert_error_record(out / "ready.json", "ready", "timed out", "remedy:")
    assert 8 <= data["duration"] < 40  # stopped at the deadline, not when the vendor answered
    # the notebook shows where it hung: its last started cell is the first step's
    assert 'run.step("prerequisites")' in started_cells(out / "ready.ipynb")[-1]
    assert sorted(p.name for p in out.iterdir()) == ["ready.ipynb", "ready.json"]
    assert leftovers(out) == []


def test_ctrl_c_keeps_where_the_run_stopped_and_stops_its_kernel(
    sandbox: Sandbox, tmp_path: Path, faults: Callable[[dict[str, Any]], None]
) -> None:
    sandbox.app.reset()
    faults({"rate": 1, "kinds": ["delay"], "delay_seconds": 40, "orgs": ["ready"]})
    out = tmp_path / "out"
    org_file = write_org(tmp_path / "org.yaml", "ready")
    process = start_lsqsf("run", str(org_file), "--out", str(out), "--sandbox", sandbox.url)
    deadline = time.monotonic() + 60
    while not kernels_of(process.pid) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert kernels_of(process.pid), "the run's kernel never started"
    while sandbox_calls(sandbox)["total"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # the login is answered; the next vendor call hangs
    time.sleep(1)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr
    assert "lsqsf: error: interrupted before the org finished" in stderr
    assert "Traceback" not in stdout + stderr  # not even asyncio's about the cell it left behind
    assert "without encryption" not in stderr  # the kernel talks over Unix sockets (watchdog.py)
    assert kernels_of(process.pid) == []
    assert_error_record(out / "ready.json", "ready", "interrupted", "remedy:")
    assert 'run.step("prerequisites")' in started_cells(out / "ready.ipynb")[-1]
    assert leftovers(out) == []


def test_a_change_made_before_the_run_hangs_is_in_the_audit_log(sandbox: Sandbox, tmp_path: Path) -> None:
    """The kernel appends each change to the log the moment it is made, not when the run ends."""
    sandbox.app.reset()
    (org,) = load_and_validate(write_org(tmp_path / "org.yaml", "lightning"), sandbox_mode=True)
    probe = notebook_with(
        tmp_path,
        "from lsqsf_helpers import notebook as runbook\nrun = runbook.start_from(globals())",
        'run.step("prerequisites")',
        'run.step("classic_view")',  # Lightning -> Classic: one change
        "import time\ntime.sleep(120)",  # then the run hangs
    )
    audit, out = tmp_path / "audit.jsonl", tmp_path / "out"
    with pytest.raises(Failure) as caught:
        headless.execute(
            org, out, apply=True, sandbox_url=sandbox.url, notebook=probe, timeout=10, audit=audit.absolute()
        )
    assert caught.value.message.startswith("timed out")
    record = assert_error_record(out / "lightning.json", "lightning", "timed out")
    (entry,) = [json.loads(line) for line in audit.read_text().splitlines()]
    assert (entry["org"], entry["mode"], entry["step"]) == ("lightning", "apply", "classic_view")
    assert (entry["before"], entry["after"]) == (True, False)
    assert entry["run_started"] <= entry["time"] and record["mode"] == "apply"
    assert "time.sleep(120)" in started_cells(out / "lightning.ipynb")[-1]


def test_a_failing_cell_leaves_its_notebook_and_an_error_record(sandbox: Sandbox, tmp_path: Path) -> None:
    (org,) = load_and_validate(write_org(tmp_path / "org.yaml", "ready"), sandbox_mode=True)
    out = tmp_path / "out"
    out.mkdir()
    (out / "ready.ipynb").write_text("{}")  # an earlier run's notebook must not sit beside this record
    probe = notebook_with(tmp_path, "print('reached the step')", "raise RuntimeError('the org said no')")
    with pytest.raises(Failure) as caught:
        headless.execute(org, out, apply=False, sandbox_url=sandbox.url, notebook=probe)
    assert caught.value.message == "the runbook notebook stopped with RuntimeError: the org said no"
    assert caught.value.remedy.startswith(f"open {out / 'ready.ipynb'} to see the failing cell")
    assert_error_record(out / "ready.json", "ready", "RuntimeError: the org said no")
    kept = nbformat.read(str(out / "ready.ipynb"), as_version=4)
    outputs = [o for cell in kept.cells if cell.cell_type == "code" for o in cell.outputs]
    assert any(o.get("text") == "reached the step\n" for o in outputs)
    assert any(o.get("ename") == "RuntimeError" for o in outputs)
    assert "widgets" not in kept.metadata
    assert leftovers(out) == []


def test_a_failing_cell_that_shows_a_secret_keeps_no_notebook(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The leak scan fails closed: the notebook is removed, the record says why, the value is nowhere."""
    monkeypatch.setenv("LSQSF_TEST_CANARY", CANARY)
    org_file = tmp_path / "org.yaml"
    org_file.write_text(
        "{org: leaky, sandbox_scenario: ready,"
        " leadsquared: {access_key: env:LSQSF_TEST_CANARY},"
        " connector: {package_version_id: 04tFAKE0LSQ0001, namespace: lsqfake}}\n"
    )
    (org,) = load_and_validate(org_file, sandbox_mode=True)
    probe = notebook_with(tmp_path, f"raise RuntimeError('key is ' + {CANARY!r})")
    out = tmp_path / "out"
    with pytest.raises(Failure) as caught:
        headless.execute(org, out, apply=False, sandbox_url=sandbox.url, notebook=probe)
    assert CANARY not in str(caught.value)
    assert_error_record(out / "leaky.json", "leaky", "RuntimeError: key is", "also:")
    assert sorted(p.name for p in out.iterdir()) == ["leaky.json"]
    for path in out.rglob("*"):
        assert CANARY not in path.read_text(), path


def test_a_kernel_that_dies_is_told_as_such(sandbox: Sandbox, tmp_path: Path) -> None:
    (org,) = load_and_validate(write_org(tmp_path / "org.yaml", "ready"), sandbox_mode=True)
    out = tmp_path / "out"
    probe = notebook_with(tmp_path, "import os\nos._exit(9)", "print('never')")
    with pytest.raises(Failure) as caught:
        headless.execute(org, out, apply=False, sandbox_url=sandbox.url, notebook=probe)
    assert caught.value.message.startswith("the notebook's kernel died")
    assert f"see {out / 'ready.ipynb'} for the cell it died in" in caught.value.remedy
    assert_error_record(out / "ready.json", "ready", "kernel died")
    assert "os._exit(9)" in started_cells(out / "ready.ipynb")[-1]
    assert leftovers(out) == []


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf", "86401"])
def test_run_refuses_a_bad_timeout_before_any_kernel(
    value: str, sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org_file = write_org(tmp_path / "org.yaml", "ready")
    out = tmp_path / "out"
    before = json.dumps(sorted(str(p) for p in tmp_path.rglob("*")))
    code = main(["run", str(org_file), "--out", str(out), "--sandbox", sandbox.url, "--timeout", value])
    err = capsys.readouterr().err
    assert code == 2
    assert "lsqsf: error: --timeout: must be a number of seconds above 0 and at most 86400" in err
    assert json.dumps(sorted(str(p) for p in tmp_path.rglob("*"))) == before and not out.exists()
