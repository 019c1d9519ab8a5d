"""Renderers for results: a terminal table and the JSON record (the notebook and report have their own)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsqsf_helpers import __version__
from lsqsf_helpers.redact import REDACTOR, Redactor
from lsqsf_helpers.results import Status, StepResult

if TYPE_CHECKING:  # runbook pulls in the steps and simple-salesforce: not needed to refuse bad input
    from lsqsf_helpers.runbook import RunRecord

SYMBOLS = {
    Status.OK: "ok",
    Status.ACTION_NEEDED: "ACTION",
    Status.FAILED: "FAILED",
    Status.MANUAL: "manual",
    Status.SKIPPED: "skipped",
}


def step_lines(result: StepResult) -> list[str]:
    """One step as a few text lines: status, message, remedy, changes and links."""
    lines = [f"  {SYMBOLS[result.status]:<8} {result.step:<18} {result.message}"]
    if result.remedy and result.status is not Status.OK:
        lines.append(f"  {'':<8} {'':<18} -> {result.remedy}")
    for change in result.changes:
        lines.append(f"  {'':<8} {'':<18} changed {change.what}: {change.before!r} -> {change.after!r}")
    if result.status is not Status.OK:
        lines.extend(f"  {'':<8} {'':<18} {label}: {url}" for label, url in result.links)
    return lines


def record_text(record: RunRecord, redactor: Redactor = REDACTOR) -> str:
    """The CLI's view of one org's run."""
    verdict = "READY" if record.ready else "NOT READY"
    head = f"{record.org} ({record.mode}): {verdict}"
    if record.error:
        return redactor.redact(f"{head}\n  error: {record.error}")
    lines = [head]
    for result in record.steps:
        lines.extend(step_lines(result))
    return redactor.redact("\n".join(lines))


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder and rename, so a half-written file never exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Read once at import: os.umask can only be read by setting it, which must not race with writer threads.
_UMASK = _read_umask()


def records_json(records: list[RunRecord], redactor: Redactor = REDACTOR) -> str:
    payload = records[0].as_dict() if len(records) == 1 else {"orgs": [r.as_dict() for r in records]}
    return json.dumps(redactor.redact_obj(payload), indent=2, sort_keys=False) + "\n"


def audit_entries(
    record: RunRecord, *, at: str | None = None, redactor: Redactor = REDACTOR
) -> list[dict[str, Any]]:
    """One audit entry per change the run made, in step order (none for a check run), redacted.

    `time` is when the entry is written (`at`, default now: a kernel writes as soon as a step has
    changed the org, `lsqsf check` when the org is done), `run_started` when the org's run began.
    """
    from lsqsf_helpers.runbook import now_iso

    when = at or now_iso()
    return [
        redactor.redact_obj(
            {
                "time": when,
                "org": record.org,
                "mode": record.mode,
                "step": step.step,
                "what": change.what,
                "before": change.before,
                "after": change.after,
                "run_started": record.started,
                "lsqsf_version": __version__,
            }
        )
        for step in record.steps
        for change in step.changes
    ]


def append_audit(path: Path, record: RunRecord, *, redactor: Redactor = REDACTOR) -> int:
    """Append one JSON line per change of `record` to the audit log at `path`; the number of lines.

    The log is only ever appended to (created private to its owner, 0600), so it keeps every change of
    every apply run, unlike the JSON record, which each run rewrites. The lines of one call go out in
    one write to a file opened O_APPEND and are synced, so kernels appending at once never interleave.
    """
    entries = audit_entries(record, redactor=redactor)
    if not entries:
        return 0
    data = "".join(json.dumps(entry, ensure_ascii=False, default=str) + "\n" for entry in entries).encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    return len(entries)


def ensure_writable(path: Path, *, field: str) -> None:
    """Refuse an output path before any work is done, so a bad one costs nothing."""
    from lsqsf_helpers.errors import UsageError

    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UsageError(f"{path} is a folder; give a file name", field=field)
    if not parent.is_dir():
        raise UsageError(f"folder {parent} does not exist", field=field)
    if not os.access(parent, os.W_OK):
        raise UsageError(f"folder {parent} is not writable", field=field)
