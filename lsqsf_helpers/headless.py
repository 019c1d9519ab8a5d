"""`lsqsf run`: the runbook notebook executed headless by papermill for one org.

The executed notebook is the immutable record of the run, with the JSON record beside it. Only
secret *references* are passed as parameters (papermill writes parameters into the notebook twice);
the kernel resolves them itself. Widget state is not stored. Both files pass the leak scan before
the run counts as done.

A run that does not finish (a failing cell, the `timeout` for the whole org, a dead kernel, Ctrl-C)
leaves the same two files, as an org of `lsqsf batch` does: the notebook as far as it got, once it
passes the leak scan, and a record with `error` set and no steps.

What one org costs on top of papermill running an empty notebook (bench/bench_notebook.py) is kept
small three ways: papermill writes the notebook when it ends (`pmengine`), not twice per cell (48
full serialisations and validations, about 0.15 s); the kernel imports the runbook's modules while
it waits for its first cell (`preload`, about 0.25 s); and the kernel is stopped, not asked to exit,
once every cell has run (Python's exit sweep over those modules outlasts jupyter_client's first
0.1 s poll, so a graceful stop takes 0.2 to 0.3 s).
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsqsf_helpers.errors import Failure, LsqsfError, UsageError
from lsqsf_helpers.leakscan import guard
from lsqsf_helpers.params import OrgParams, to_flat
from lsqsf_helpers.redact import REDACTOR
from lsqsf_helpers.secrets import resolve
from lsqsf_helpers.watchdog import DEFAULT_TIMEOUT, Watchdog

if TYPE_CHECKING:
    from lsqsf_helpers.runbook import RunRecord

log = logging.getLogger(__name__)

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "runbook.ipynb"
KERNEL_START_TIMEOUT = 120  # seconds; parallel kernel starts on 2 cores can be slow (papermill#239)
# The kernel loads lsqsf_helpers.preload as an IPython extension: it imports the runbook's modules in
# a background thread while jupyter_client still waits for the new kernel's IOPub to fall quiet.
KERNEL_ARGUMENTS = ("--IPKernelApp.extra_extensions=lsqsf_helpers.preload",)


@dataclass(frozen=True)
class RunOutput:
    notebook: Path
    record: Path
    ready: bool
    record_data: dict[str, Any]


def run_parameters(
    org: OrgParams, *, apply: bool, sandbox_url: str | None, record_path: Path, audit: Path | None = None
) -> dict[str, Any]:
    """The papermill parameters: the org's flat fields (references, never values) and the run options.

    With `audit` (an absolute path), the kernel appends each change to that log the moment it is made.
    """
    return {
        **to_flat(org),
        "apply": apply,
        "sandbox": sandbox_url or "",
        "interactive": False,
        "record_path": str(record_path),
        "audit_path": str(audit or ""),
    }


def register_known_secrets(org: OrgParams, sandbox_url: str | None) -> None:
    """Resolve this org's secrets here too, so the leak scan knows every value the kernel could see."""
    for field, ref in org.secret_refs():
        if ref.kind != "prompt":
            resolve(ref, field, redactor=REDACTOR)
    if sandbox_url and org.sandbox_scenario:
        from lsqsf_helpers import http

        practice = http.sandbox_orgs(sandbox_url).get(org.sandbox_scenario) or {}
        sf, lsq = practice.get("salesforce", {}), practice.get("leadsquared", {})
        for name in ("password", "security_token", "consumer_secret", "jwt_private_key"):
            if sf.get(name):
                REDACTOR.register(str(sf[name]), label=f"sandbox {name}")
        for name in ("access_key", "secret_key"):
            if lsq.get(name):
                REDACTOR.register(str(lsq[name]), label=f"sandbox {name}")


class _OrphanedCellTask(logging.Filter):
    """Drops asyncio's "Task exception was never retrieved" for a cell whose kernel was stopped.

    After Ctrl-C nbclient leaves the interrupted cell's task behind; when it is collected, asyncio
    logs its DeadKernelError with a traceback. The run's own error already says what happened.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (
            record.getMessage().startswith("Task exception was never retrieved")
            and type(exc).__name__ == "DeadKernelError"
        )


def _quiet_orphaned_cell_tasks() -> None:
    """Install `_OrphanedCellTask` on asyncio's logger, once."""
    asyncio_log = logging.getLogger("asyncio")
    if not any(isinstance(f, _OrphanedCellTask) for f in asyncio_log.filters):
        asyncio_log.addFilter(_OrphanedCellTask())


def execute(
    org: OrgParams,
    out_dir: Path,
    *,
    apply: bool,
    sandbox_url: str | None,
    notebook: Path = NOTEBOOK,
    timeout: float = DEFAULT_TIMEOUT,
    audit: Path | None = None,
) -> RunOutput:
    """Run the notebook for one org into out_dir/<org>.ipynb and out_dir/<org>.json.

    A run that fails, passes `timeout` (seconds, for the whole org) or loses its kernel leaves both
    files too: the notebook as far as it got, leak-scanned, and a record with `error` set. The
    Failure raised then says what happened and where to look. With `audit`, every change is appended
    to that log by the kernel as it is made, so a run that stops later still has its changes logged.
    """
    import papermill

    from lsqsf_helpers import pmengine
    from lsqsf_helpers.runbook import RunRecord, now_iso

    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / f"{org.label}.ipynb"
    record = out_dir / f"{org.label}.json"
    partial = out_dir / f".{org.label}.partial.ipynb"
    register_known_secrets(org, sandbox_url)
    _quiet_orphaned_cell_tasks()
    started, clock = now_iso(), time.perf_counter()
    with Watchdog(timeout) as watchdog:
        try:
            papermill.execute_notebook(
                str(notebook),
                str(partial),
                parameters=run_parameters(
                    org, apply=apply, sandbox_url=sandbox_url, record_path=record, audit=audit
                ),
                kernel_name="python3",
                progress_bar=False,
                start_timeout=KERNEL_START_TIMEOUT,
                execution_timeout=max(1, math.ceil(timeout)),
                store_widget_state=False,
                kernel_manager_class=watchdog.manager_class(),
                # One save when the notebook ends, finished or not, instead of one at each cell's
                # start and end: a hung, crashed or interrupted run still shows the cell it stopped in.
                engine_name=pmengine.register_end_saves(),
                extra_arguments=list(KERNEL_ARGUMENTS),
                # After the last cell papermill has every output and the kernel has written the JSON
                # record (write_atomic): nothing is left for the kernel to do at exit.
                shutdown_kernel="immediate",
            )
        except BaseException as exc:  # Ctrl-C too: what the run got to is kept, scanned, and said
            failure = failure_of(
                exc,
                reason=watchdog.reason,
                timeout=timeout,
                notebook=executed,
                retry="run lsqsf run again",
            )
            failed = RunRecord(
                org=org.label,
                mode="apply" if apply else "check",
                started=started,
                duration=time.perf_counter() - clock,
                sandbox_scenario=org.sandbox_scenario or None,
            )
            keep_failed_run(partial, executed, record, failed, failure)
            raise failure from None
    strip_widget_state(partial)
    guard([partial, record])
    partial.replace(executed)
    if not record.is_file():
        raise Failure(f"the notebook ran but wrote no record at {record}", remedy="see the executed notebook")
    data = json.loads(record.read_text(encoding="utf-8"))
    return RunOutput(executed, record, bool(data.get("ready")), data)


def failure_of(exc: BaseException, *, reason: str, timeout: float, notebook: Path, retry: str) -> Failure:
    """A run that ended in an exception, told as a redacted Failure whose remedy points at its notebook.

    `reason` is the watchdog's ("timeout" when it stopped the kernel at the deadline); `retry` says
    how to run the org again and ends each remedy.
    """
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill import PapermillExecutionError

    if reason == "timeout" or isinstance(exc, CellTimeoutError):
        message = (
            f"timed out: the org did not finish within {timeout:g} s (--timeout); its kernel was stopped"
        )
        remedy = f"see {notebook} for the step that hung; check the org's API access or raise --timeout, then {retry}"
    elif isinstance(exc, PapermillExecutionError):
        message = f"the runbook notebook stopped with {exc.ename}: {exc.evalue}"
        remedy = f"open {notebook} to see the failing cell; then {retry}"
    elif isinstance(exc, DeadKernelError):
        message, remedy = (
            f"the notebook's kernel died ({exc})",
            f"see {notebook} for the cell it died in; {retry}",
        )
    elif isinstance(exc, KeyboardInterrupt):
        message, remedy = (
            "interrupted before the org finished",
            f"see {notebook} for where it stopped; {retry}",
        )
    elif isinstance(exc, LsqsfError):
        message, remedy = exc.message, exc.remedy or retry
    else:
        message, remedy = f"{type(exc).__name__}: {exc}", retry
    return Failure(REDACTOR.redact(message), remedy=REDACTOR.redact(remedy))


def keep_failed_run(
    partial: Path, notebook: Path, record_path: Path, record: RunRecord, error: Failure
) -> None:
    """Write the record of a run that failed, hung or crashed: `error` set (redacted), no steps.

    The partial notebook papermill left is kept as `notebook`, to show where the run stopped, once
    it passes the leak scan; one that does not is removed and the record says so. An older notebook
    at that path goes too, so the record and the notebook beside it are always about the same run.
    """
    from lsqsf_helpers.leakscan import SecretLeak
    from lsqsf_helpers.render import records_json, write_atomic

    message = str(error)
    notebook.unlink(missing_ok=True)
    if partial.is_file():
        try:
            strip_widget_state(partial)
            guard([partial])
            partial.replace(notebook)
        except SecretLeak as leak:
            message = f"{message}\n  also: {leak.message}"
        except Exception:  # a notebook papermill could not finish writing: not worth keeping
            partial.unlink(missing_ok=True)
    write_atomic(record_path, records_json([replace(record, steps=[], error=REDACTOR.redact(message))]))


def strip_widget_state(path: Path) -> None:
    """Belt and braces: no widget state in an executed notebook, whatever the engine did."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)  # type: ignore[no-untyped-call]
    if nb.metadata.pop("widgets", None) is not None:
        nbformat.write(nb, str(path))  # type: ignore[no-untyped-call]


def single_org(orgs: list[OrgParams]) -> OrgParams:
    if len(orgs) != 1:
        raise UsageError(
            f"holds {len(orgs)} orgs; lsqsf run takes one",
            field="ORG_FILE",
            remedy="give a file with one org, or use lsqsf check for several",
        )
    return orgs[0]
