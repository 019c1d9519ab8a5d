"""`lsqsf run`: the runbook notebook executed headless by papermill for one org.

The executed notebook is the immutable record of the run, with the JSON record beside it. Only
secret *references* are passed as parameters (papermill writes parameters into the notebook twice);
the kernel resolves them itself. Widget state is not stored. Both files pass the leak scan before
the run counts as done.

What one org costs on top of papermill running an empty notebook (bench/bench_notebook.py) is kept
small three ways: papermill writes the notebook once at the end, not twice per cell (48 full
serialisations and validations, about 0.15 s); the kernel imports the runbook's modules while it
waits for its first cell (`preload`, about 0.25 s); and the kernel is stopped, not asked to exit,
once every cell has run (Python's exit sweep over those modules outlasts jupyter_client's first
0.1 s poll, so a graceful stop takes 0.2 to 0.3 s).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsqsf_helpers.errors import Failure, UsageError
from lsqsf_helpers.leakscan import guard
from lsqsf_helpers.params import OrgParams, to_flat
from lsqsf_helpers.redact import REDACTOR
from lsqsf_helpers.secrets import resolve

log = logging.getLogger(__name__)

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "runbook.ipynb"
KERNEL_START_TIMEOUT = 120  # seconds; parallel kernel starts on 2 cores can be slow (papermill#239)
CELL_TIMEOUT = 600  # seconds per cell; a package install polls for minutes at most
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
    org: OrgParams, *, apply: bool, sandbox_url: str | None, record_path: Path
) -> dict[str, Any]:
    """The papermill parameters: the org's flat fields (references, never values) and the run options."""
    return {
        **to_flat(org),
        "apply": apply,
        "sandbox": sandbox_url or "",
        "interactive": False,
        "record_path": str(record_path),
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


def execute(
    org: OrgParams,
    out_dir: Path,
    *,
    apply: bool,
    sandbox_url: str | None,
    notebook: Path = NOTEBOOK,
    cell_timeout: int = CELL_TIMEOUT,
) -> RunOutput:
    """Run the notebook for one org into out_dir/<org>.ipynb and out_dir/<org>.json."""
    import papermill

    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / f"{org.label}.ipynb"
    record = out_dir / f"{org.label}.json"
    partial = out_dir / f".{org.label}.partial.ipynb"
    register_known_secrets(org, sandbox_url)
    try:
        papermill.execute_notebook(
            str(notebook),
            str(partial),
            parameters=run_parameters(org, apply=apply, sandbox_url=sandbox_url, record_path=record),
            kernel_name="python3",
            progress_bar=False,
            start_timeout=KERNEL_START_TIMEOUT,
            execution_timeout=cell_timeout,
            store_widget_state=False,
            # One write of the whole notebook when it is done, or failed (papermill writes it with the
            # error first), instead of a write at each cell's start and end. The only loss: a cell that
            # times out or a kernel that dies leaves no half-written notebook (none was leak-scanned).
            request_save_on_cell_execute=False,
            extra_arguments=list(KERNEL_ARGUMENTS),
            # After the last cell papermill has every output and the kernel has written the JSON
            # record (write_atomic): nothing is left for the kernel to do at exit.
            shutdown_kernel="immediate",
        )
    except papermill.PapermillExecutionError as exc:
        guard([partial, record])
        raise Failure(
            f"the runbook notebook stopped with {exc.ename}: {REDACTOR.redact(str(exc.evalue))}",
            remedy=f"open {partial} to see the failing cell",
        ) from None
    strip_widget_state(partial)
    guard([partial, record])
    partial.replace(executed)
    if not record.is_file():
        raise Failure(f"the notebook ran but wrote no record at {record}", remedy="see the executed notebook")
    data = json.loads(record.read_text(encoding="utf-8"))
    return RunOutput(executed, record, bool(data.get("ready")), data)


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
