"""The batch runner's own logic with the kernel faked out (fast): retries, crashes, leaks, resume rules,
progress, signals. The papermill call is replaced by a function that writes what a run would."""

from __future__ import annotations

import errno
import io
import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
import zmq
from nbclient.exceptions import DeadKernelError
from sandboxkit import leftovers, read_json, write_orgs

from lsqsf_helpers import batch
from lsqsf_helpers.cli import main
from lsqsf_helpers.params import load_org_file, to_flat
from lsqsf_helpers.redact import REDACTOR
from lsqsf_helpers.render import records_json
from lsqsf_helpers.runbook import RunRecord, now_iso
from lsqsf_helpers.sandbox import Sandbox

Fake = Callable[[batch.OrgTask, Any, Path, type[Any]], None]


def write_run(org_dir: Path, label: str, *, started: bool = True, text: str = "done") -> None:
    """What papermill and the kernel leave after a run: the partial notebook and the partial record."""
    cell = nbformat.v4.new_code_cell("run.finish()")
    cell.metadata["papermill"] = {"status": "completed" if started else "pending"}
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    nb = nbformat.v4.new_notebook(cells=[cell])
    nbformat.write(nb, str(org_dir / batch.PARTIAL_NOTEBOOK))
    record = RunRecord(org=label, mode="check", started=now_iso())
    (org_dir / batch.PARTIAL_RECORD).write_text(records_json([record]))


def fake_run(task: batch.OrgTask, org: Any, org_dir: Path, manager_class: type[Any]) -> None:
    write_run(org_dir, task.label)


def make_task(out: Path, label: str = "ready", timeout: float = 60) -> batch.OrgTask:
    org = load_org_file(write_orgs(out.parent / f"{label}.yaml", [label]))[0]
    return batch.OrgTask(
        label=label, flat=to_flat(org), out_dir=str(out), apply=False, sandbox_url=None, timeout=timeout
    )


def test_a_kernel_port_race_is_retried_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tries: list[int] = []

    def racy(task: batch.OrgTask, org: Any, org_dir: Path, manager_class: type[Any]) -> None:
        tries.append(1)
        if len(tries) == 1:
            write_run(org_dir, task.label, started=False)
            raise zmq.ZMQError(errno.EADDRINUSE)  # "Address already in use" (papermill#511)
        fake_run(task, org, org_dir, manager_class)

    monkeypatch.setattr(batch, "_papermill_execute", racy)
    outcome = batch.run_org(make_task(tmp_path / "out"))
    assert (outcome.state, outcome.attempts, len(tries)) == (batch.NOT_READY, 2, 2)
    folder = tmp_path / "out" / "ready"
    assert sorted(p.name for p in folder.iterdir()) == ["notebook.ipynb", "record.json"]
    assert read_json(folder / "record.json")["error"] == ""


def test_a_kernel_that_never_starts_ends_in_an_error_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(task: batch.OrgTask, org: Any, org_dir: Path, manager_class: type[Any]) -> None:
        raise RuntimeError("Kernel didn't respond in 120 seconds")

    monkeypatch.setattr(batch, "_papermill_execute", never)
    outcome = batch.run_org(make_task(tmp_path / "out"))
    assert (outcome.state, outcome.attempts) == (batch.FAILED, 2)  # tried once more, then given up
    record = read_json(tmp_path / "out" / "ready" / "record.json")
    assert record["schema"] == "lsqsf.run/1"
    assert record["steps"] == [] and record["ready"] is False
    assert "Kernel didn't respond" in record["error"] and "remedy:" in record["error"]
    assert leftovers(tmp_path / "out") == []


def test_a_failing_cell_is_not_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from papermill import PapermillExecutionError

    tries: list[int] = []

    def failing(task: batch.OrgTask, org: Any, org_dir: Path, manager_class: type[Any]) -> None:
        tries.append(1)
        write_run(org_dir, task.label)
        (org_dir / batch.PARTIAL_RECORD).unlink()
        raise PapermillExecutionError(2, 1, "run.step('x')", "Failure", "the org said no", [])

    monkeypatch.setattr(batch, "_papermill_execute", failing)
    outcome = batch.run_org(make_task(tmp_path / "out"))
    assert (outcome.state, len(tries)) == (batch.FAILED, 1)
    folder = tmp_path / "out" / "ready"
    record = read_json(folder / "record.json")
    assert record["error"].startswith("the runbook notebook stopped with Failure: the org said no")
    assert str(folder / "notebook.ipynb") in record["error"]  # the remedy points at the failing cell
    assert (folder / "notebook.ipynb").is_file()
    assert leftovers(tmp_path / "out") == []


def test_a_crash_in_one_org_does_not_touch_the_others(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def crashing(task: batch.OrgTask, org: Any, org_dir: Path, manager_class: type[Any]) -> None:
        if task.label == "fresh":
            write_run(org_dir, task.label)
            raise DeadKernelError("Kernel died")
        if task.label == "lightning":
            raise MemoryError("out of memory")  # anything at all
        fake_run(task, org, org_dir, manager_class)

    monkeypatch.setattr(batch, "_papermill_execute", crashing)
    orgs = write_orgs(tmp_path / "orgs.yaml", ["ready", "fresh", "lightning", "not-admin"])
    out = tmp_path / "out"
    code = main(["batch", str(orgs), "--out", str(out), "--sandbox", sandbox.url, "--workers", "2"])
    assert code == 1
    printed = capsys.readouterr()
    assert "Traceback" not in printed.out + printed.err
    assert "error: the notebook's kernel died" in printed.out
    assert "error: MemoryError: out of memory" in printed.out
    for label in ("ready", "not-admin"):
        assert read_json(out / label / "record.json")["error"] == ""
    assert (out / "fresh" / "notebook.ipynb").is_file()  # kept, to show where it died
    assert read_json(out / "batch.json")["not_finished"] == []
    assert leftovers(out) == []


def test_a_leak_removes_the_files_and_fails_the_org(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    canary = "CANARY-batch-7f3e91-secret"
    REDACTOR.register(canary, label="test canary")

    def leaky(task: batch.OrgTask, org: Any, org_dir: Path, manager_class: type[Any]) -> None:
        write_run(org_dir, task.label, text=f"oops {canary}")

    monkeypatch.setattr(batch, "_papermill_execute", leaky)
    outcome = batch.run_org(make_task(tmp_path / "out"))
    assert outcome.state == batch.FAILED
    folder = tmp_path / "out" / "ready"
    assert sorted(p.name for p in folder.iterdir()) == ["record.json"]
    text = (folder / "record.json").read_text()
    assert canary not in text
    assert "a secret value was found" in read_json(folder / "record.json")["error"]


def test_an_org_is_not_started_once_the_operator_stops(tmp_path: Path) -> None:
    outcome = batch.run_org(make_task(tmp_path / "out"), stop_new=lambda: True)
    assert outcome.state == batch.NOT_STARTED
    assert not (tmp_path / "out").exists()


def test_resume_counts_only_complete_results_as_finished(tmp_path: Path) -> None:
    out = tmp_path / "out"
    labels = ["ready", "fresh", "lightning", "not-admin", "flaky"]
    orgs = load_org_file(write_orgs(tmp_path / "orgs.yaml", labels))
    good = records_json([RunRecord(org="ready", mode="check", started=now_iso())])
    for label in labels:
        (out / label).mkdir(parents=True)
    (out / "ready" / "record.json").write_text(good)  # finished: a record without steps needs no notebook
    (out / "fresh" / "record.json").write_text(good[: len(good) // 2])  # half-written
    with_steps = json.loads(good.replace('"ready"', '"lightning"', 1))
    with_steps["steps"] = [{"id": "prerequisites", "status": "ok"}]
    (out / "lightning" / "record.json").write_text(json.dumps(with_steps))  # steps but no notebook
    (out / "not-admin" / ".record.json.x1y2").write_text(good)  # a temporary file only
    (out / "flaky" / "record.json").write_text(json.dumps({"schema": "other/1", "org": "flaky"}))
    (out / "batch.json").write_text(json.dumps({"schema": batch.BATCH_SCHEMA, "mode": "check"}))
    with pytest.raises(batch.UsageError, match="--resume"):
        batch.plan(orgs, batch.Options(out=out))
    plan = batch.plan(orgs, batch.Options(out=out, resume=True))
    assert plan.finished == {"ready"}
    assert [o.label for o in plan.to_run] == ["fresh", "lightning", "not-admin", "flaky"]
    with pytest.raises(batch.UsageError, match="check mode"):
        batch.plan(orgs, batch.Options(out=out, resume=True, apply=True))
    (out / "batch.json").unlink()  # the records' own mode decides then
    with pytest.raises(batch.UsageError, match=r"another mode \(ready\)"):
        batch.plan(orgs, batch.Options(out=out, resume=True, apply=True))


def test_a_rerun_org_starts_from_a_clean_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch, "_papermill_execute", fake_run)
    folder = tmp_path / "out" / "ready"
    folder.mkdir(parents=True)
    for name in ("record.json", "notebook.ipynb", ".record.json.abc", ".notebook.partial.ipynb"):
        (folder / name).write_text("{half")
    (folder / "notes.txt").write_text("mine")
    assert batch.run_org(make_task(tmp_path / "out")).state == batch.NOT_READY
    assert sorted(p.name for p in folder.iterdir()) == ["notebook.ipynb", "notes.txt", "record.json"]
    assert read_json(folder / "record.json")["org"] == "ready"


def test_progress_lines_without_a_terminal() -> None:
    stream = io.StringIO()
    progress = batch.Progress(3, stream, already={batch.READY: 1})
    progress.add(batch.OrgOutcome("a", batch.NOT_READY))
    progress.add(batch.OrgOutcome("b", batch.CANCELLED))  # not done: does not count
    progress.add(batch.OrgOutcome("c", batch.FAILED))
    progress.close()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "[batch] 1/3 done, 0 not ready, 0 failed, eta ?"
    assert lines[1].startswith("[batch] 2/3 done, 1 not ready, 0 failed, eta ")
    assert lines[2] == "[batch] 3/3 done, 1 not ready, 1 failed, eta 0s"


def test_progress_bar_on_a_terminal() -> None:
    stream = io.StringIO()
    progress = batch.Progress(2, stream, bar=True)
    progress.add(batch.OrgOutcome("a", batch.READY))
    progress.add(batch.OrgOutcome("b", batch.FAILED))
    progress.close()
    text = stream.getvalue()
    assert "2/2" in text and "0 not ready, 1 failed" in text and "[batch]" not in text


def test_first_ctrl_c_stops_new_orgs_second_cancels_and_sigterm_cancels() -> None:
    control = batch.Control()
    control.on_signal(signal.SIGINT, None)
    assert control.stop_new.is_set() and not control.cancel.is_set()
    assert [m.split(":")[1] for m in control.messages()] == [" interrupted"]
    control.on_signal(signal.SIGINT, None)
    assert control.cancel.is_set()
    assert control.messages()[0].startswith("lsqsf: cancelling the running orgs")
    assert control.messages() == []
    term = batch.Control()
    term.on_signal(signal.SIGTERM, None)
    assert term.stop_new.is_set() and term.cancel.is_set()


def test_the_demo_replaces_only_an_earlier_demo(tmp_path: Path) -> None:
    out = tmp_path / "demo-out"
    (out / "ready").mkdir(parents=True)
    (out / "ready" / "record.json").write_text("{}")
    (out / "ready" / "notebook.ipynb").write_text("{}")
    (out / "summary.csv").write_text("")
    (out / "mine.txt").write_text("keep")
    meta = {"schema": batch.BATCH_SCHEMA, "command": "batch", "orgs": ["ready"]}
    (out / "batch.json").write_text(json.dumps(meta))
    batch.clear_demo_output(out)  # a real batch: untouched
    assert (out / "ready" / "record.json").exists() and (out / "batch.json").exists()
    (out / "batch.json").write_text(json.dumps(meta | {"command": "demo"}))
    batch.clear_demo_output(out)
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]
