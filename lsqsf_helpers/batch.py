"""`lsqsf batch`: the runbook notebook for every org of an orgs file, one fresh kernel per org.

Layout of the output folder DIR (every file written atomically: a temporary name, then a rename):

    DIR/<org>/notebook.ipynb   the executed notebook (kept for a failed run too, to show the failing cell)
    DIR/<org>/record.json      the org's JSON record, schema lsqsf.run/1; `error` set and no steps when
                               the run failed, hung or crashed
    DIR/batch.json             the batch's own record, schema lsqsf.batch/1
    DIR/summary.json, summary.csv, report.html   written by `report.build(DIR)` at the end

An org counts as finished (and `--resume` skips it) only when its record.json parses with schema
lsqsf.run/1 and, if the record has steps, its notebook.ipynb exists. The record is renamed into place
last, after the notebook and after the leak scan, so a half-written run is never taken for a result.

Orgs run in-process through `papermill.execute_notebook` from a thread pool (papermill is imported
once; never the papermill CLI, never `cwd=`), or as the same task on a Dask distributed cluster with
`--scheduler`. Each org gets a fresh kernel, so credentials never share one. A watchdog thread per org
stops the org's kernel when the org passes its deadline (`--timeout`, also papermill's per-cell
timeout) or when the operator cancels; whatever happens to one org ends in its own record and never
stops the batch.

Ctrl-C once: no new org starts, running orgs finish. Ctrl-C again, or SIGTERM: running orgs are
cancelled too (their kernels are stopped; they get no record, so `--resume` runs them). Either way
finished results are kept, batch.json says `interrupted: true`, the summary covers what finished,
and the exit code is 1.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import math
import os
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

from lsqsf_helpers import __version__
from lsqsf_helpers.errors import Failure, UsageError
from lsqsf_helpers.params import OrgParams, to_flat
from lsqsf_helpers.redact import REDACTOR
from lsqsf_helpers.render import write_atomic
from lsqsf_helpers.runbook import RECORD_SCHEMA, RunRecord, now_iso
from lsqsf_helpers.watchdog import DEFAULT_TIMEOUT, TICK, Check, Watchdog, checked_timeout, never

log = logging.getLogger(__name__)

BATCH_SCHEMA = "lsqsf.batch/1"
NOTEBOOK_NAME = "notebook.ipynb"
RECORD_NAME = "record.json"
BATCH_NAME = "batch.json"
PARTIAL_NOTEBOOK = ".notebook.partial.ipynb"  # papermill writes here; renamed after the leak scan
PARTIAL_RECORD = ".record.partial.json"  # the kernel writes the record here; renamed last
SUMMARY_FILES = ("summary.json", "summary.csv", "report.html")

DEFAULT_WORKERS = 2
MAX_WORKERS = 32
LOG_EVERY = 10.0  # seconds between plain progress lines while no org finishes
SCHEDULER_TIMEOUT = "10s"  # to connect to a Dask scheduler
SCHEDULER_RE = re.compile(r"^tcp://[A-Za-z0-9.\-\[\]:]+:\d{1,5}/?$")

# what happened to one org in this invocation
READY, NOT_READY, FAILED, CANCELLED, NOT_STARTED = "ready", "not_ready", "failed", "cancelled", "not_started"


# --------------------------------------------------------------------------------------------------
# One org: a picklable task, run in a pool thread or on a Dask worker
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OrgTask:
    """Everything one org's run needs, as plain picklable values: secret *references*, never values."""

    label: str
    flat: dict[str, Any]  # the org's notebook parameters (`params.to_flat`)
    out_dir: str  # the batch folder, absolute (on a cluster: a path every worker shares)
    apply: bool
    sandbox_url: str | None
    timeout: float  # seconds: the org's deadline and papermill's per-cell timeout
    mode: str = "check"
    audit: str | None = None  # the audit log, absolute: the org's kernel appends each change as it is made


@dataclass(frozen=True)
class OrgOutcome:
    """What happened to one org in this invocation (the record on disk is the result itself)."""

    label: str
    state: str  # ready | not_ready | failed | cancelled | not_started
    error: str = ""
    duration: float = 0.0
    attempts: int = 0


def _is_temp(name: str) -> bool:
    """A file of an unfinished run: papermill's and the kernel's partial files, write_atomic leftovers."""
    return name.startswith(".") and (
        ".partial" in name or name.startswith((f".{RECORD_NAME}.", f".{NOTEBOOK_NAME}."))
    )


def _clear_unfinished(org_dir: Path) -> None:
    """An org that is (re)started: forget what an earlier, unfinished run of it left behind."""
    if not org_dir.is_dir():
        return
    for path in org_dir.iterdir():
        if path.is_file() and (_is_temp(path.name) or path.name in (NOTEBOOK_NAME, RECORD_NAME)):
            path.unlink(missing_ok=True)


def read_record(path: Path, label: str | None = None) -> dict[str, Any] | None:
    """The record at `path` if it is one (schema lsqsf.run/1, for `label` when given), else None."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema") != RECORD_SCHEMA:
        return None
    if label is not None and data.get("org") != label:
        return None
    return data


def finished_record(org_dir: Path, label: str | None = None) -> dict[str, Any] | None:
    """The org's record if the org finished: a valid record.json, and its notebook when it has steps."""
    data = read_record(org_dir / RECORD_NAME, label)
    if data is None:
        return None
    if data.get("steps") and not (org_dir / NOTEBOOK_NAME).is_file():
        return None
    return data


def _never_started(partial: Path) -> bool:
    """True when no cell of the run started (a kernel start failure): trying again is harmless."""
    try:
        nb = json.loads(partial.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    for cell in nb.get("cells", []):
        status = cell.get("metadata", {}).get("papermill", {}).get("status")
        if cell.get("cell_type") == "code" and status not in (None, "pending"):
            return False
    return True


def _papermill_execute(task: OrgTask, org: OrgParams, org_dir: Path, manager_class: type[Any]) -> None:
    """The one papermill call of an org run (tests replace it to fake kernels)."""
    import papermill

    from lsqsf_helpers import headless, pmengine

    _thread_context().run(
        papermill.execute_notebook,
        str(headless.NOTEBOOK),
        str(org_dir / PARTIAL_NOTEBOOK),
        parameters=headless.run_parameters(
            org,
            apply=task.apply,
            sandbox_url=task.sandbox_url,
            record_path=org_dir / PARTIAL_RECORD,
            audit=Path(task.audit) if task.audit else None,
        ),
        kernel_name="python3",
        progress_bar=False,
        start_timeout=headless.KERNEL_START_TIMEOUT,
        execution_timeout=max(1, math.ceil(task.timeout)),
        store_widget_state=False,
        kernel_manager_class=manager_class,
        engine_name=pmengine.register(),
        # Kernels share our stderr, and ipykernel logs there the interrupt jupyter_client sends at
        # shutdown: noise between progress lines. What a cell raised stays in the executed notebook.
        # (Kernels talk over Unix sockets, see watchdog.py, so there is no TCP warning to hide.)
        # (And, as for `lsqsf run`, the kernel imports the runbook's modules while it waits for its
        # first cell.)
        extra_arguments=["--IPKernelApp.log_level=CRITICAL", *headless.KERNEL_ARGUMENTS],
        # A save when each code cell starts (pmengine), not papermill's two per cell: a timed-out or
        # cancelled org's notebook still shows where it stopped. (Without per-cell saves papermill
        # writes the notebook only after a run that did not raise.) Once the last cell has run,
        # every output is in and the kernel has written the record: it is stopped, not asked to exit.
        shutdown_kernel="immediate",
    )


def _failure_of(exc: BaseException, task: OrgTask, reason: str) -> Failure:
    """A run that ended in an exception, told as a Failure with a remedy (`headless.failure_of`)."""
    from lsqsf_helpers import headless

    where = Path(task.out_dir) / task.label
    return headless.failure_of(
        exc,
        reason=reason,
        timeout=task.timeout,
        notebook=where / NOTEBOOK_NAME,
        retry=f"delete {where} and run the batch again with --resume to retry this org",
    )


def write_error_record(task: OrgTask, *, started: str, duration: float, error: Failure) -> None:
    """The record of a run that failed, hung or crashed (see `headless.keep_failed_run`)."""
    from lsqsf_helpers import headless

    org_dir = Path(task.out_dir) / task.label
    org_dir.mkdir(parents=True, exist_ok=True)
    (org_dir / PARTIAL_RECORD).unlink(missing_ok=True)
    record = RunRecord(
        org=task.label,
        mode=task.mode,
        started=started,
        duration=duration,
        sandbox_scenario=task.flat.get("sandbox_scenario") or None,
    )
    headless.keep_failed_run(
        org_dir / PARTIAL_NOTEBOOK, org_dir / NOTEBOOK_NAME, org_dir / RECORD_NAME, record, error
    )


def _publish(org_dir: Path, label: str) -> dict[str, Any]:
    """A run that ended normally: scan, check and rename its files into place (the record last)."""
    from lsqsf_helpers import headless
    from lsqsf_helpers.leakscan import guard

    partial, partial_record = org_dir / PARTIAL_NOTEBOOK, org_dir / PARTIAL_RECORD
    headless.strip_widget_state(partial)
    guard([partial, partial_record])
    data = read_record(partial_record, label)
    if data is None:
        raise Failure(
            "the notebook ran but wrote no valid record",
            remedy=f"see {org_dir / NOTEBOOK_NAME} for what it printed",
        )
    os.replace(partial, org_dir / NOTEBOOK_NAME)
    os.replace(partial_record, org_dir / RECORD_NAME)
    return data


def run_org(task: OrgTask, *, stop_new: Check = never, cancel: Check = never) -> OrgOutcome:
    """Run one org's notebook into DIR/<org>/; never raises: a failure ends in the org's record.

    `stop_new()` true: the org is not started. `cancel()` true while it runs: its kernel is stopped,
    its partial files are removed and it gets no record (so `--resume` runs it again).
    """
    if stop_new() or cancel():
        return OrgOutcome(task.label, NOT_STARTED)
    org_dir = Path(task.out_dir) / task.label
    started, clock = now_iso(), time.perf_counter()
    attempts = 0
    try:
        from lsqsf_helpers import headless
        from lsqsf_helpers.params import from_flat

        org_dir.mkdir(parents=True, exist_ok=True)
        _clear_unfinished(org_dir)
        with Watchdog(task.timeout, cancel) as watchdog:
            org = from_flat(task.flat)
            headless.register_known_secrets(org, task.sandbox_url)
            while True:
                attempts += 1
                try:
                    _papermill_execute(task, org, org_dir, watchdog.manager_class())
                    break
                except Exception as exc:
                    if watchdog.reason == "cancelled":
                        _clear_unfinished(org_dir)
                        if not any(org_dir.iterdir()):
                            org_dir.rmdir()
                        return OrgOutcome(task.label, CANCELLED, attempts=attempts)
                    port_race = "Address already in use" in str(exc)
                    if (
                        attempts == 1
                        and not watchdog.reason
                        and (port_race or _never_started(org_dir / PARTIAL_NOTEBOOK))
                    ):
                        log.warning(
                            "%s: the kernel did not start (%s); trying once more",
                            task.label,
                            REDACTOR.redact(f"{type(exc).__name__}: {exc}"),
                        )
                        _clear_unfinished(org_dir)
                        continue
                    raise _failure_of(exc, task, watchdog.reason) from exc
        data = _publish(org_dir, task.label)
        state = READY if data.get("ready") else NOT_READY
        return OrgOutcome(task.label, state, duration=time.perf_counter() - clock, attempts=attempts)
    except Exception as exc:
        failure = exc if isinstance(exc, Failure) else _failure_of(exc, task, "")
        duration = time.perf_counter() - clock
        try:
            write_error_record(task, started=started, duration=duration, error=failure)
        except Exception:
            log.exception("%s: the error record could not be written", task.label)
        message = REDACTOR.redact(str(failure).split("\n")[0])
        return OrgOutcome(task.label, FAILED, error=message, duration=duration, attempts=attempts)


def run_org_on_worker(task: OrgTask, stop_event: str, cancel_event: str) -> OrgOutcome:
    """`run_org` as a Dask task: the operator's wishes arrive through two named distributed Events."""
    from distributed import Event

    stop, cancel = Event(stop_event), Event(cancel_event)
    return run_org(task, stop_new=stop.is_set, cancel=cancel.is_set)


_THREAD = threading.local()


def _thread_context() -> contextvars.Context:
    """This thread's own context for papermill, made once per thread.

    jupyter_client keeps its event loop in a context variable (jupyter_core.utils). A Dask worker runs
    a task in a context copied from elsewhere, so papermill could find a loop that runs in another
    thread: "RuntimeError: This event loop is already running" (met in the test suite after an
    in-process papermill run on the main thread). In a context of its own, each thread that runs
    papermill keeps one loop of its own, as the local pool's threads always did.
    """
    context: contextvars.Context | None = getattr(_THREAD, "context", None)
    if context is None:
        context = _THREAD.context = contextvars.Context()
    return context


# --------------------------------------------------------------------------------------------------
# The batch: plan, run, progress, batch.json, summary
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Options:
    out: Path
    workers: int = DEFAULT_WORKERS
    apply: bool = False
    resume: bool = False
    timeout: float = DEFAULT_TIMEOUT
    scheduler: str | None = None
    sandbox: bool = False  # recorded in batch.json
    orgs_file: str = ""  # its name, recorded in batch.json
    command: str = "batch"  # batch | demo, recorded in batch.json
    audit: Path | None = None  # append-only log of every change an apply run made (each kernel appends)

    @property
    def mode(self) -> str:
        return "apply" if self.apply else "check"


@dataclass
class Plan:
    orgs: list[OrgParams]
    options: Options
    finished: set[str] = field(default_factory=set)  # labels finished by an earlier run (--resume)

    @property
    def to_run(self) -> list[OrgParams]:
        return [org for org in self.orgs if org.label not in self.finished]


def _holds_results(out: Path) -> bool:
    if (out / BATCH_NAME).exists():
        return True
    return any(
        child.is_dir() and ((child / RECORD_NAME).exists() or (child / NOTEBOOK_NAME).exists())
        for child in out.iterdir()
    )


def plan(orgs: list[OrgParams], options: Options) -> Plan:
    """Check the options and the output folder before anything runs; nothing is written here."""
    if not 1 <= options.workers <= MAX_WORKERS:
        raise UsageError(f"must be from 1 to {MAX_WORKERS}", field="--workers")
    checked_timeout(options.timeout)
    if options.scheduler is not None and not SCHEDULER_RE.match(options.scheduler):
        raise UsageError(
            f"a Dask scheduler address is tcp://HOST:PORT, not {options.scheduler!r}", field="--scheduler"
        )
    out = options.out
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a folder", field="--out")
    finished: set[str] = set()
    if out.is_dir() and _holds_results(out):
        if not options.resume:
            raise UsageError(
                f"{out} already holds the results of a batch",
                field="--out",
                remedy="add --resume to continue that batch, or choose a new folder",
            )
        earlier = _read_json(out / BATCH_NAME)
        if earlier.get("mode") not in (None, options.mode):
            raise UsageError(
                f"{out} holds a batch run in {earlier['mode']} mode; this one is in {options.mode} mode",
                field="--out",
                remedy="resume it in the same mode, or choose a new folder",
            )
        records = {org.label: finished_record(out / org.label, org.label) for org in orgs}
        finished = {label for label, data in records.items() if data is not None}
        other = [label for label, data in records.items() if data and data.get("mode") != options.mode]
        if other:
            raise UsageError(
                f"{out} holds results of another mode ({', '.join(other)}); this batch is in {options.mode} mode",
                field="--out",
                remedy="resume it in the same mode, or choose a new folder",
            )
    return Plan(orgs, options, finished)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class Control:
    """The operator's wishes: first Ctrl-C stops new orgs; a second one, or SIGTERM, cancels running ones.

    The signal handler only sets flags and queues a message; the batch loop prints it (`messages()`),
    so it never lands in the middle of a progress bar update.
    """

    def __init__(self) -> None:
        self.stop_new = threading.Event()
        self.cancel = threading.Event()
        self._messages: list[str] = []

    @property
    def interrupted(self) -> bool:
        return self.stop_new.is_set()

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and not self.stop_new.is_set():
            self.stop_new.set()
            self._messages.append(
                "lsqsf: interrupted: no new org starts; running orgs finish (Ctrl-C again to cancel them)"
            )
            return
        if not self.cancel.is_set():
            self.stop_new.set()
            self.cancel.set()
            self._messages.append(
                "lsqsf: cancelling the running orgs (their kernels are stopped; --resume runs them)"
            )

    def messages(self) -> list[str]:
        """The messages queued since the last call."""
        taken, self._messages = self._messages, []
        return taken

    @contextmanager
    def signals(self) -> Iterator[None]:
        """SIGINT and SIGTERM handled here while the batch runs (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class Progress:
    """Orgs done out of the total: a tqdm bar on a terminal, else a plain line per org and every LOG_EVERY s."""

    def __init__(
        self,
        total: int,
        stream: IO[str],
        *,
        already: Mapping[str, int] | None = None,
        bar: bool | None = None,
    ) -> None:
        """`already`: counts of orgs finished by an earlier run (`ready`, `not_ready`, `failed`)."""
        earlier = dict(already or {})
        self.total = total
        self.done = sum(earlier.get(key, 0) for key in (READY, NOT_READY, FAILED))
        self.not_ready, self.failed = earlier.get(NOT_READY, 0), earlier.get(FAILED, 0)
        self.stream = stream
        self._ran = 0
        self._started = self._last_line = time.monotonic()
        use_bar = stream.isatty() if bar is None else bar
        self._bar: Any = None
        if use_bar:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=self.done, unit="org", file=stream, dynamic_ncols=True)
            self._bar.set_postfix_str(self._postfix())
        elif self.done:
            self._line()

    def _postfix(self) -> str:
        return f"{self.not_ready} not ready, {self.failed} failed"

    def _eta(self) -> str:
        if not self._ran:
            return "eta ?"
        left = self.total - self.done
        per_org = (time.monotonic() - self._started) / self._ran
        return f"eta {math.ceil(left * per_org)}s"

    def _line(self) -> None:
        self._last_line = time.monotonic()
        print(
            f"[batch] {self.done}/{self.total} done, {self._postfix()}, {self._eta()}",
            file=self.stream,
            flush=True,
        )

    def add(self, outcome: OrgOutcome) -> None:
        if outcome.state in (CANCELLED, NOT_STARTED):
            return
        self.done += 1
        self._ran += 1
        self.not_ready += outcome.state == NOT_READY
        self.failed += outcome.state == FAILED
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix_str(self._postfix())
        else:
            self._line()

    def tick(self) -> None:
        if self._bar is None and time.monotonic() - self._last_line >= LOG_EVERY:
            self._line()

    def say(self, text: str) -> None:
        """A message of its own line, above the bar when there is one."""
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _tasks(plan: Plan, sandbox_url: str | None) -> list[OrgTask]:
    out = str(plan.options.out.resolve())
    return [
        OrgTask(
            label=org.label,
            flat=to_flat(org),
            out_dir=out,
            apply=plan.options.apply,
            sandbox_url=sandbox_url,
            timeout=plan.options.timeout,
            mode=plan.options.mode,
            audit=str(plan.options.audit) if plan.options.audit else None,
        )
        for org in plan.to_run
    ]


def _crashed(task: OrgTask, exc: BaseException, duration: float = 0.0) -> OrgOutcome:
    """A task that raised where run_org never does (a pool or cluster failure): still a record."""
    failure = _failure_of(exc, task, "")
    try:
        write_error_record(task, started=now_iso(), duration=duration, error=failure)
    except Exception:
        log.exception("%s: the error record could not be written", task.label)
    return OrgOutcome(task.label, FAILED, error=REDACTOR.redact(str(failure).split("\n")[0]))


class _Collector:
    """Takes each org's outcome as it comes: progress, and the outcomes for the end of the batch."""

    def __init__(self, progress: Progress, control: Control, options: Options) -> None:
        self.progress, self.control, self.options = progress, control, options
        self.outcomes: dict[str, OrgOutcome] = {}

    def __call__(self, outcome: OrgOutcome) -> None:
        self.outcomes[outcome.label] = outcome
        self.progress.add(outcome)

    def tick(self) -> None:
        """Called by the batch loop a few times a second: the operator's messages, a periodic line."""
        for message in self.control.messages():
            self.progress.say(message)
        self.progress.tick()


def _run_local(tasks: Sequence[OrgTask], workers: int, control: Control, collector: _Collector) -> None:
    from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

    import papermill  # noqa: F401  imported once, here, before the pool threads need it

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lsqsf-org") as pool:
        futures: dict[Future[OrgOutcome], OrgTask] = {
            pool.submit(run_org, task, stop_new=control.stop_new.is_set, cancel=control.cancel.is_set): task
            for task in tasks
        }
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=TICK, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    collector(future.result())
                except Exception as exc:
                    collector(_crashed(futures[future], exc))
            if control.stop_new.is_set():
                for future in [f for f in pending if f.cancel()]:
                    pending.discard(future)
                    collector(OrgOutcome(futures[future].label, NOT_STARTED))
            collector.tick()


def connect(scheduler: str) -> Any:
    """A client of the Dask scheduler at `scheduler` (a distributed.Client), before anything is written."""
    try:
        from distributed import Client
    except ImportError:
        raise UsageError(
            "needs Dask distributed, which is not installed",
            field="--scheduler",
            remedy="pip install 'lsqsf[dask]' (or dask[distributed]) on this machine and on the workers",
        ) from None
    try:
        return Client(scheduler, timeout=SCHEDULER_TIMEOUT, set_as_default=False)
    except OSError as exc:
        raise Failure(
            f"no Dask scheduler answered at {scheduler}: {exc}",
            remedy="start one (dask scheduler; dask worker tcp://HOST:PORT) and pass its address",
        ) from None


def _run_dask(tasks: Sequence[OrgTask], client: Any, control: Control, collector: _Collector) -> int:
    """The same tasks on a Dask distributed cluster; returns the cluster's thread count."""
    from distributed import Event

    with client:
        batch_id = uuid.uuid4().hex[:12]
        stop_name, cancel_name = f"lsqsf-{batch_id}-stop", f"lsqsf-{batch_id}-cancel"
        stop, cancel = Event(stop_name, client=client), Event(cancel_name, client=client)
        threads = int(sum(client.nthreads().values()))
        futures = {
            client.submit(
                run_org_on_worker,
                task,
                stop_name,
                cancel_name,
                key=f"lsqsf-{batch_id}-{task.label}",
                pure=False,
            ): task
            for task in tasks
        }
        pending = set(futures)
        told_stop = told_cancel = False
        while pending:
            if control.stop_new.is_set() and not told_stop:
                stop.set()
                told_stop = True
            if control.cancel.is_set() and not told_cancel:
                cancel.set()
                told_cancel = True
            for future in [f for f in pending if f.done()]:
                pending.discard(future)
                task = futures[future]
                try:
                    collector(future.result())
                except (Exception, asyncio.CancelledError) as exc:  # a lost worker or scheduler too
                    collector(_crashed(task, exc))
            collector.tick()
            if pending:
                time.sleep(TICK)
    return threads


def run(
    plan: Plan,
    *,
    sandbox_url: str | None,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
    progress_bar: bool | None = None,
) -> int:
    """Run the planned batch; exit code 0 every org ready, 1 otherwise (or interrupted), 3 no summary."""
    from lsqsf_helpers import checkrun

    out, err = out or sys.stdout, err or sys.stderr
    options = plan.options
    checkrun.practice_orgs(plan.to_run, sandbox_url)  # an unknown scenario is refused before anything runs
    client = connect(options.scheduler) if options.scheduler else None
    try:
        options.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if client is not None:
            client.close()
        raise UsageError(f"cannot create {options.out} ({exc.strerror})", field="--out") from None
    started, clock = now_iso(), time.perf_counter()
    tasks = _tasks(plan, sandbox_url)
    if plan.finished:
        print(f"[batch] resuming: {_orgs(len(plan.finished))} already finished in {options.out}", file=err)
    control = Control()
    earlier = _counts({label: finished_record(options.out / label, label) for label in plan.finished})
    progress = Progress(len(plan.orgs), err, already=earlier, bar=progress_bar)
    collector = _Collector(progress, control, options)
    workers: int = options.workers
    try:
        with control.signals():
            if client is not None:
                workers = _run_dask(tasks, client, control, collector)
            else:
                _run_local(tasks, options.workers, control, collector)
    finally:
        progress.close()
    records = {org.label: finished_record(options.out / org.label, org.label) for org in plan.orgs}
    batch = {
        "schema": BATCH_SCHEMA,
        "lsqsf_version": __version__,
        "command": options.command,
        "started": started,
        "finished": now_iso(),
        "duration": round(time.perf_counter() - clock, 3),
        "mode": options.mode,
        "workers": workers,
        "scheduler": options.scheduler,
        "orgs_file": options.orgs_file,
        "sandbox": options.sandbox,
        "interrupted": control.interrupted,
        "resumed": bool(plan.finished),
        "timeout": options.timeout,
        "orgs": [org.label for org in plan.orgs],
        "not_finished": [label for label, data in records.items() if data is None],
    }
    write_atomic(options.out / BATCH_NAME, json.dumps(batch, indent=2) + "\n")
    _print_orgs(plan, records, out)
    counts = _counts(records)
    ran = sum(o.state in (READY, NOT_READY, FAILED) for o in collector.outcomes.values())
    print(
        f"\nBatch: {_orgs(len(plan.orgs))}: {counts[READY]} ready, {counts[NOT_READY]} not ready, "
        f"{counts[FAILED]} failed, {counts['not_run']} not run; "
        f"{ran} run now, {len(plan.finished)} from an earlier run; {batch['duration']:.1f} s",
        file=out,
        flush=True,
    )
    if not any(records.values()):
        print("No org finished, so there is no summary.", file=out, flush=True)
    else:
        try:
            from lsqsf_helpers import report

            summary = report.build(options.out)
        except Exception as exc:
            log.debug("summary failed", exc_info=True)
            print(
                f"lsqsf: internal error: the summary could not be built ({type(exc).__name__}: {exc}); "
                f"the per-org results are in {options.out}",
                file=err,
                flush=True,
            )
            return 3
        print(f"Report: {summary.html_path.resolve()}", file=out, flush=True)
    if control.interrupted and counts["not_run"]:
        print(
            f"Interrupted: run the same command with --resume to finish the {_orgs(counts['not_run'])} left.",
            file=out,
            flush=True,
        )
    all_ready = counts[READY] == len(plan.orgs)
    return 0 if all_ready and not control.interrupted else 1


def _orgs(count: int) -> str:
    return f"{count} org" if count == 1 else f"{count} orgs"


def _counts(records: Mapping[str, dict[str, Any] | None]) -> dict[str, int]:
    counts = {READY: 0, NOT_READY: 0, FAILED: 0, "not_run": 0}
    for data in records.values():
        if data is None:
            counts["not_run"] += 1
        elif data.get("error"):
            counts[FAILED] += 1
        elif data.get("ready"):
            counts[READY] += 1
        else:
            counts[NOT_READY] += 1
    return counts


def _print_orgs(plan: Plan, records: Mapping[str, dict[str, Any] | None], out: IO[str]) -> None:
    """One line per org (`label (mode): READY | NOT READY | NOT RUN`), then what is left, indented."""
    for org in plan.orgs:
        data = records[org.label]
        if data is None:
            print(f"{org.label} ({plan.options.mode}): NOT RUN", file=out)
            print("  interrupted before it finished; --resume runs it", file=out)
            continue
        print(f"{org.label} ({data.get('mode')}): {'READY' if data.get('ready') else 'NOT READY'}", file=out)
        if data.get("error"):
            print(f"  error: {str(data['error']).splitlines()[0]}", file=out)
            continue
        left: dict[str, list[str]] = {}
        for step in data.get("steps", []):
            if step.get("status") in ("action_needed", "failed", "manual"):
                left.setdefault(step["status"], []).append(step["id"])
        for status, steps in left.items():
            print(f"  {status}: {', '.join(steps)}", file=out)
    out.flush()


def clear_demo_output(out: Path) -> None:
    """Remove a previous `lsqsf demo` run from `out`, so the demo can run again.

    Only a folder whose batch.json says the demo wrote it, and only the files a batch writes there.
    """
    batch = _read_json(out / BATCH_NAME)
    if batch.get("schema") != BATCH_SCHEMA or batch.get("command") != "demo":
        return
    for label in batch.get("orgs", []):
        org_dir = out / str(label)
        if not org_dir.is_dir() or org_dir.parent != out:
            continue
        for path in org_dir.iterdir():
            if path.is_file() and (_is_temp(path.name) or path.name in (NOTEBOOK_NAME, RECORD_NAME)):
                path.unlink()
        if not any(org_dir.iterdir()):
            org_dir.rmdir()
    for name in (*SUMMARY_FILES, BATCH_NAME):
        (out / name).unlink(missing_ok=True)
