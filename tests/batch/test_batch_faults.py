"""A batch under injected vendor faults, and an org that hangs past --timeout."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from batchkit import calls, statuses
from expectations import notebook_expectation
from sandboxkit import leftovers, read_json, write_orgs

from lsqsf_helpers.cli import main
from lsqsf_helpers.sandbox import Sandbox
from lsqsf_helpers.steps import STEP_IDS

Faults = Callable[[dict[str, Any]], None]


def test_under_faults_every_org_ends_with_one_record(
    sandbox: Sandbox, tmp_path: Path, faults: Faults, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.app.reset()
    faults(
        {
            "rate": 0.2,
            "kinds": ["429", "503", "drop", "delay", "expire"],
            "delay_seconds": 0.5,  # well below the 30 s read timeout
            "seed": 11,
        }
    )
    labels = ["ready", "fresh", "lightning", "bad-lsq-keys"]
    out = tmp_path / "out"
    orgs = write_orgs(tmp_path / "orgs.yaml", labels)
    code = main(["batch", str(orgs), "--out", str(out), "--sandbox", sandbox.url, "--workers", "2"])
    printed = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in printed.out + printed.err
    assert sum(calls(sandbox)["faults"].values()) >= 3  # the faults did hit
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(labels)  # none missing, none extra
    for label in labels:
        record = read_json(out / label / "record.json")
        assert record["schema"] == "lsqsf.run/1" and record["org"] == label
        if record["error"]:  # the run itself failed: it says what to do
            assert record["steps"] == [] and "remedy:" in record["error"]
            continue
        assert [s["id"] for s in record["steps"]] == list(STEP_IDS)
        for step in record["steps"]:
            if step["status"] == "failed":
                assert step["remedy"], (label, step)
        if record["ready"]:
            assert all(s["status"] in ("ok", "manual") for s in record["steps"]), label
    assert len(re.findall(r"^\S+ \(check\): (?:NOT )?READY$", printed.out, re.M)) == len(labels)
    summary = read_json(out / "summary.json")
    assert sorted(org["org"] for org in summary["orgs"]) == sorted(labels)  # each exactly once
    assert leftovers(out) == []


def test_an_org_that_hangs_is_stopped_at_the_timeout_and_the_others_finish(
    sandbox: Sandbox, tmp_path: Path, faults: Faults, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox.app.reset()
    faults({"rate": 1, "kinds": ["delay"], "delay_seconds": 40, "orgs": ["ready"]})  # every call of one org
    labels = ["ready", "lightning", "not-admin"]
    out = tmp_path / "out"
    orgs = write_orgs(tmp_path / "orgs.yaml", labels)
    code = main(
        ["batch", str(orgs), "--out", str(out), "--sandbox", sandbox.url, "--workers", "2", "--timeout", "12"]
    )
    printed = capsys.readouterr()
    assert code == 1
    hung = read_json(out / "ready" / "record.json")
    assert hung["steps"] == [] and hung["ready"] is False
    assert hung["error"].startswith("timed out: the org did not finish within 12 s (--timeout)")
    assert "remedy:" in hung["error"]
    assert 12 <= hung["duration"] < 30
    # where it hung: the last cell that started is the first step's (its first vendor call never answered)
    hung_nb = read_json(out / "ready" / "notebook.ipynb")
    started = ["".join(c["source"]) for c in hung_nb["cells"] if c["metadata"]["papermill"].get("start_time")]
    assert 'run.step("prerequisites")' in started[-1], started
    for label in ("lightning", "not-admin"):
        record = read_json(out / label / "record.json")
        assert record["error"] == ""
        assert statuses(record) == notebook_expectation(label)
    assert "ready (check): NOT READY\n  error: timed out" in printed.out
    assert read_json(out / "batch.json")["timeout"] == 12
    assert leftovers(out) == []
