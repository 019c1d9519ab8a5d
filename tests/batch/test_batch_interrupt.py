"""Ctrl-C and SIGTERM on a real `python -m lsqsf_helpers batch` process, then `--resume`."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from batchkit import calls
from processkit import kernels_of, start_lsqsf
from sandboxkit import leftovers, read_json, write_orgs

from lsqsf_helpers.sandbox import Sandbox

ORGS = ["ready", "lightning", "not-admin", "bad-lsq-keys"]


def start_batch(orgs: Path, out: Path, sandbox: Sandbox, *extra: str) -> subprocess.Popen[str]:
    return start_lsqsf(
        "batch", str(orgs), "--out", str(out), "--sandbox", sandbox.url, "--workers", "1", *extra
    )


def wait_for(path: Path, process: subprocess.Popen[str], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            out, err = process.communicate(timeout=10)
            raise AssertionError(f"{path} never appeared:\n{out}\n{err}")
        time.sleep(0.05)


def test_ctrl_c_keeps_what_finished_and_resume_does_the_rest(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.app.reset()
    orgs, out = write_orgs(tmp_path / "orgs.yaml", ORGS), tmp_path / "out"
    process = start_batch(orgs, out, sandbox)
    wait_for(out / ORGS[0] / "record.json", process)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stderr
    assert "Traceback" not in stdout + stderr
    assert "no new org starts" in stderr
    meta = read_json(out / "batch.json")
    assert meta["interrupted"] is True
    finished = [label for label in ORGS if (out / label / "record.json").exists()]
    assert finished == ORGS[: len(finished)] and 1 <= len(finished) < len(ORGS)
    assert meta["not_finished"] == ORGS[len(finished) :]
    for label in finished:  # the running org was allowed to finish: complete results
        assert read_json(out / label / "record.json")["error"] == ""
        assert (out / label / "notebook.ipynb").is_file()
    for label in meta["not_finished"]:
        assert not (out / label / "notebook.ipynb").exists()
        assert f"{label} (check): NOT RUN" in stdout
    assert leftovers(out) == []
    summary = read_json(out / "summary.json")
    assert {org["org"] for org in summary["orgs"]} == set(finished)
    assert "--resume" in stdout

    kept = {label: (out / label / "record.json").read_bytes() for label in finished}
    mtimes = {label: (out / label / "record.json").stat().st_mtime_ns for label in finished}
    seen = {label: calls(sandbox)["by_org"].get(label) for label in ORGS}
    resumed = start_batch(orgs, out, sandbox, "--resume")
    stdout, stderr = resumed.communicate(timeout=120)
    assert resumed.returncode == 1, stderr  # lightning, not-admin, bad-lsq-keys are not ready
    assert f"{len(ORGS) - len(finished)} run now, {len(finished)} from an earlier run" in stdout
    after = calls(sandbox)["by_org"]
    for label in finished:  # not run again: same bytes, same time, no new vendor call
        assert (out / label / "record.json").read_bytes() == kept[label]
        assert (out / label / "record.json").stat().st_mtime_ns == mtimes[label]
        assert after.get(label) == seen[label]
    for label in ORGS[len(finished) :]:
        assert seen[label] is None and after.get(label)  # run once, now
    meta = read_json(out / "batch.json")
    assert (meta["interrupted"], meta["resumed"], meta["not_finished"]) == (False, True, [])
    assert {org["org"] for org in read_json(out / "summary.json")["orgs"]} == set(ORGS)
    assert leftovers(out) == []


def test_sigterm_cancels_the_running_org_and_stops_its_kernel(
    sandbox: Sandbox, tmp_path: Path, faults: Callable[[dict[str, Any]], None]
) -> None:
    sandbox.app.reset()
    faults({"rate": 1, "kinds": ["delay"], "delay_seconds": 20, "orgs": ["ready"]})
    orgs, out = write_orgs(tmp_path / "orgs.yaml", ["ready", "lightning"]), tmp_path / "out"
    process = start_batch(orgs, out, sandbox)
    wait_for(out / "ready" / ".notebook.partial.ipynb", process)
    deadline = time.monotonic() + 60
    while not kernels_of(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert kernels_of(process.pid), "the org's kernel never started"
    time.sleep(1)  # inside the first, delayed, vendor call
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert time.monotonic() - sent < 15  # not the 20 s of the delayed call
    assert process.returncode == 1, stderr
    assert "Traceback" not in stdout + stderr
    assert kernels_of(process.pid) == []
    assert not (out / "ready").exists()  # cancelled: no record, nothing half-written; --resume runs it
    assert not (out / "lightning").exists()  # never started
    meta = read_json(out / "batch.json")
    assert (meta["interrupted"], meta["not_finished"]) == (True, ["ready", "lightning"])
    assert "No org finished" in stdout
