"""The runbook notebook's one entry point: every code cell calls a method of `NotebookRun`.

The same object serves a solutions engineer in JupyterLab (widgets: form, checklist, Check/Fix
buttons, built by `ui`) and a headless papermill run (plain display outputs, a JSON record, a
clean stop when prerequisites fail). It holds no secret values itself: references are resolved by
`connect` just in time and every resolved value is registered with the redactor.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lsqsf_helpers import http
from lsqsf_helpers.connect import TypedSecrets, build_context
from lsqsf_helpers.context import RunContext
from lsqsf_helpers.display import ChecklistView, MessageView, StepView
from lsqsf_helpers.errors import Failure, UsageError
from lsqsf_helpers.params import FLAT_PARAMETERS, OrgParams, from_flat
from lsqsf_helpers.redact import REDACTOR
from lsqsf_helpers.render import append_audit, write_atomic
from lsqsf_helpers.results import Status, StepResult
from lsqsf_helpers.runbook import RunRecord, now_iso, redact_result, run_step
from lsqsf_helpers.steps import STEP_IDS, STEPS, Step

EMBEDDED = "embedded"
STEPS_BY_ID: dict[str, Step] = {step.id: step for step in STEPS}
Listener = Callable[[StepResult], None]


def _show(obj: object) -> None:
    from IPython.display import display

    display(obj)  # type: ignore[no-untyped-call]


class NotebookRun:
    """One org's runbook session inside a kernel."""

    def __init__(
        self,
        params: Mapping[str, Any],
        *,
        apply: bool = False,
        sandbox: str = "",
        interactive: bool = False,
        record_path: str = "",
        audit_path: str = "",
    ) -> None:
        self.apply = apply
        self.interactive = interactive
        self.record_path = record_path
        self.audit_path = audit_path
        self.sandbox_url = self._sandbox_url(sandbox)
        self.results: dict[str, StepResult] = {}
        self.listeners: list[Listener] = []
        self.change_listeners: list[Callable[[], None]] = []  # told when settings or apply mode change
        self.started = now_iso()
        self._clock = time.perf_counter()
        self._counter = http.CallCounter()
        self._ctx: RunContext | None = None
        self.flat_params: dict[str, Any] = dict(params)
        self.org: OrgParams = from_flat(self.flat_params)

    # ----- setup ----------------------------------------------------------------------------------
    _embedded: Any = None  # one embedded sandbox per kernel, shared by every run in it

    @classmethod
    def _sandbox_url(cls, sandbox: str) -> str | None:
        if not sandbox:
            return None
        if sandbox != EMBEDDED:
            http.SandboxAdapter(sandbox)  # validates the address (loopback http only)
            return sandbox.rstrip("/")
        if NotebookRun._embedded is None:
            from lsqsf_helpers.sandbox import Sandbox

            NotebookRun._embedded = Sandbox().start()
        return str(NotebookRun._embedded.url)

    def configure(self, params: Mapping[str, Any], typed: TypedSecrets | None = None) -> None:
        """New settings from the form: validate, forget earlier results, reconnect on next use."""
        org = from_flat(params)
        self.flat_params, self.org = dict(params), org
        self.results.clear()
        self._ctx = None
        self._typed = dict(typed or {})
        self._changed()

    _typed: dict[str, str] = {}

    def set_apply(self, apply: bool) -> None:
        self.apply = apply
        if self._ctx is not None:
            self._ctx.apply = apply
        self._changed()

    def subscribe_changes(self, listener: Callable[[], None]) -> None:
        self.change_listeners.append(listener)

    def _changed(self) -> None:
        for listener in self.change_listeners:
            listener()

    def context(self) -> RunContext:
        """The run context, built on first use (this is when secrets are resolved)."""
        if self._ctx is None:
            borrowed = None
            if self.sandbox_url and self.org.sandbox_scenario:
                practice = http.sandbox_orgs(self.sandbox_url)
                borrowed = practice.get(self.org.sandbox_scenario)
                if borrowed is None:
                    raise UsageError(
                        f"the sandbox has no practice org {self.org.sandbox_scenario!r}",
                        field="sandbox_scenario",
                        remedy=f"choose one of: {', '.join(sorted(practice))}",
                    )
            from lsqsf_helpers.checkrun import CONNECT_TIMEOUT, read_timeout_from_env

            session = http.new_session(
                sandbox_url=self.sandbox_url,
                counter=self._counter,
                timeout=(CONNECT_TIMEOUT, read_timeout_from_env()),  # the kernel inherits the environment
            )
            self._ctx = build_context(
                self.org,
                apply=self.apply,
                session=session,
                borrowed=borrowed,
                interactive=self.interactive,
                typed=self._typed,
            )
            self._typed = {}  # typed values live on only inside the clients that needed them
        self._ctx.apply = self.apply
        return self._ctx

    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    # ----- steps -----------------------------------------------------------------------------------
    def can_fix(self, step_id: str) -> bool:
        return STEPS_BY_ID[step_id].can_fix

    def fix_summary(self, step_id: str) -> str:
        """What the step's fix would change, in words, for the confirmation before it runs."""
        step = STEPS_BY_ID[step_id]
        what = step.fix_summary.format(**dataclasses.asdict(self.org.connector)) or f"fix '{step.title}'"
        return f"{what} (only if the check finds it needed; the step is checked again afterwards)"

    def _record(self, result: StepResult) -> StepResult:
        result = redact_result(result)
        self.results[result.step] = result
        ctx = self._ctx
        if ctx is not None:
            ctx.results[result.step] = result
        for listener in self.listeners:
            listener(result)
        if result.changes and self.audit_path:
            self._audit(result)
        return result

    def _audit(self, result: StepResult) -> None:
        """Append the step's changes to the audit log as soon as the org has them.

        A run that hangs or dies later keeps them logged. A log that cannot be written stops the
        run there: no further change is made that the log would miss.
        """
        changed = RunRecord(org=self.org.label, mode="apply", started=self.started, steps=[result])
        try:
            append_audit(Path(self.audit_path), changed)
        except OSError as exc:
            raise Failure(
                f"the audit log {self.audit_path} could not be written ({exc.strerror or exc}); "
                f"the change to step {result.step} was made",
                remedy="make the log writable, note the change shown in this step's result, and run again",
            ) from None

    def _run(self, step_id: str, *, apply: bool, fresh: bool = True) -> StepResult:
        """Run one step; `fresh` reads the org again first (the admin may have changed it since)."""
        step = STEPS_BY_ID[step_id]
        started = time.perf_counter()
        try:
            ctx = self.context()
        except (UsageError, Failure) as exc:
            result = step.result(Status.FAILED, str(exc).split("\n")[0], remedy=exc.remedy)
        else:
            if fresh:
                ctx.forget_reads()
            saved = ctx.apply
            ctx.apply = apply
            try:
                result = run_step(step, ctx)
            finally:
                ctx.apply = saved
        return self._record(dataclasses.replace(result, duration=time.perf_counter() - started))

    def check(self, step_id: str) -> StepResult:
        """Check one step without changing anything, whatever the mode."""
        return self._run(step_id, apply=False)

    def check_all(self) -> list[StepResult]:
        """Check every step in runbook order (after new settings, later steps need earlier results)."""
        return [self._run(step_id, apply=False, fresh=step_id == STEP_IDS[0]) for step_id in STEP_IDS]

    def fix(self, step_id: str) -> StepResult:
        """Fix one step (apply mode only), then check it again; the result lists the changes."""
        if not self.apply:
            raise UsageError("fixes need apply mode", field="apply", remedy="switch apply mode on first")
        return self._run(step_id, apply=True)

    def step(self, step_id: str) -> None:
        """The notebook cell's call: run the step in the run's mode and show the result."""
        # Headless, the cells run once in order and share one read of the org; interactively a cell
        # run again must show the org as it is now.
        result = self._run(step_id, apply=self.apply, fresh=self.interactive or step_id == STEP_IDS[0])
        _show(StepView(result))
        if self.interactive:
            from lsqsf_helpers import ui

            _show(ui.step_panel(self, step_id))
        if step_id == "prerequisites" and result.status is Status.FAILED and not self.interactive:
            self.stop(f"Stopped: {result.message} Nothing else can be checked until this is fixed.")

    # ----- overview, end -------------------------------------------------------------------------
    def show_setup(self) -> None:
        """The setup cell: what this run is, and in JupyterLab the form and live checklist."""
        mode = "apply (fixes what the APIs allow)" if self.apply else "check only"
        where = (
            f"the sandbox ({self.org.sandbox_scenario or 'own credentials'})"
            if self.sandbox_url
            else "the live org"
        )
        _show(MessageView(f"Runbook for {self.org.label}: {mode}, against {where}."))
        if self.interactive:
            from lsqsf_helpers import ui

            _show(ui.runbook_form(self))
            _show(ui.checklist(self))

    def checklist(self) -> ChecklistView:
        return ChecklistView(STEP_IDS, self.results)

    def record(self) -> RunRecord:
        steps = [self.results[s] for s in STEP_IDS if s in self.results]
        return RunRecord(
            org=self.org.label,
            mode="apply" if self.apply else "check",
            started=self.started,
            steps=steps,
            duration=time.perf_counter() - self._clock,
            sandbox_scenario=self.org.sandbox_scenario,
            http_calls=self._counter.snapshot(),
        )

    def finish(self) -> None:
        """The last cell: the checklist, the verdict, and the JSON record next to the notebook."""
        record = self.record()
        _show(self.checklist())
        verdict = "READY" if record.ready else "NOT READY"
        _show(
            MessageView(f"{self.org.label}: {verdict}", Status.OK if record.ready else Status.ACTION_NEEDED)
        )
        if self.record_path:
            from lsqsf_helpers.render import records_json

            write_atomic(Path(self.record_path), records_json([record]))

    def stop(self, message: str) -> None:
        """End a headless run cleanly: mark the steps not reached, write the record, exit without error."""
        for step_id in STEP_IDS:
            if step_id not in self.results:
                step = STEPS_BY_ID[step_id]
                self._record(
                    step.result(Status.SKIPPED, "Skipped: the run stopped at a failed prerequisite.")
                )
        _show(MessageView(message, Status.FAILED))
        self.finish()
        sys.exit(0)  # papermill treats this as a clean stop: later cells stay unexecuted


RUN_OPTIONS = ("apply", "sandbox", "interactive", "record_path", "audit_path")
PARAMETER_NAMES: tuple[str, ...] = (*(p.name for p in FLAT_PARAMETERS), *RUN_OPTIONS)


def start_from(namespace: Mapping[str, Any]) -> NotebookRun:
    """The setup cell's call: take the parameters cell's names from the notebook's namespace."""
    params = {p.name: namespace[p.name] for p in FLAT_PARAMETERS if p.name in namespace}
    return start(
        params,
        apply=bool(namespace.get("apply", False)),
        sandbox=str(namespace.get("sandbox", "")),
        interactive=bool(namespace.get("interactive", False)),
        record_path=str(namespace.get("record_path", "")),
        audit_path=str(namespace.get("audit_path", "")),
    )


def start(
    params: Mapping[str, Any],
    *,
    apply: bool = False,
    sandbox: str = "",
    interactive: bool = False,
    record_path: str = "",
    audit_path: str = "",
) -> NotebookRun:
    """Validate the parameters and show the setup; a bad parameter is shown with its remedy and raised."""
    try:
        run = NotebookRun(
            params,
            apply=apply,
            sandbox=sandbox,
            interactive=interactive,
            record_path=record_path,
            audit_path=audit_path,
        )
    except UsageError as exc:
        _show(MessageView(str(exc), Status.FAILED))
        raise
    run.show_setup()
    return run


__all__ = ["PARAMETER_NAMES", "REDACTOR", "NotebookRun", "start", "start_from"]
