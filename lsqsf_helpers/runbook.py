"""Run the steps in order: the step list is data, results go to callbacks, secrets never leave.

Check-only by default. In apply mode a step that needs action and has a fix is fixed, then checked
again, and its changes are recorded on the result. A step whose precondition is not met is skipped
with the reason. Every result passes through the redactor before anyone sees it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lsqsf_helpers import __version__
from lsqsf_helpers.context import RunContext
from lsqsf_helpers.errors import Failure, UsageError
from lsqsf_helpers.redact import REDACTOR, Redactor
from lsqsf_helpers.results import Status, StepResult
from lsqsf_helpers.steps import STEPS, Step

RECORD_SCHEMA = "lsqsf.run/1"
OnResult = Callable[[StepResult], None]


@dataclass
class RunRecord:
    """One org's run: the JSON record's content (schema in docs/record-schema.md)."""

    org: str
    mode: str  # check | apply
    started: str
    steps: list[StepResult] = field(default_factory=list)
    duration: float = 0.0
    sandbox_scenario: str | None = None
    http_calls: dict[str, int] = field(default_factory=dict)
    error: str = ""  # set when the run could not start (bad input); steps then stay empty

    @property
    def ready(self) -> bool:
        return not self.error and bool(self.steps) and not any(s.status.blocks_readiness for s in self.steps)

    def counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in Status}
        for step in self.steps:
            counts[step.status.value] += 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": RECORD_SCHEMA,
            "lsqsf_version": __version__,
            "org": self.org,
            "mode": self.mode,
            "started": self.started,
            "duration": round(self.duration, 3),
            "ready": self.ready,
            "counts": self.counts(),
            "sandbox_scenario": self.sandbox_scenario,
            "http_calls": self.http_calls,
            "error": self.error,
            "steps": [s.as_dict() for s in self.steps],
        }


def redact_result(result: StepResult, redactor: Redactor = REDACTOR) -> StepResult:
    """The same result with every registered secret masked in its text, evidence, changes and links."""
    cleaned = redactor.redact_obj(result.as_dict())
    return dataclasses.replace(
        result,
        message=cleaned["message"],
        remedy=cleaned["remedy"],
        evidence=cleaned["evidence"],
        changes=tuple(
            dataclasses.replace(c, what=d["what"], before=d["before"], after=d["after"])
            for c, d in zip(result.changes, cleaned["changes"], strict=True)
        ),
        links=tuple((d["label"], d["url"]) for d in cleaned["links"]),
    )


def _unmet(step: Step, results: dict[str, StepResult]) -> list[str]:
    return [
        f"{dep} is {results[dep].status.value}" if dep in results else f"{dep} did not run"
        for dep, allowed in step.requires.items()
        if dep not in results or results[dep].status not in allowed
    ]


def _guarded(step: Step, action: Callable[[], StepResult]) -> StepResult:
    """Run a check or fix; our errors become a result the admin can act on."""
    try:
        return action()
    except UsageError as exc:
        return step.result(
            Status.ACTION_NEEDED, exc.message, remedy=exc.remedy, evidence={"field": exc.field}
        )
    except Failure as exc:
        return step.result(Status.FAILED, exc.message, remedy=exc.remedy)


def run_step(step: Step, ctx: RunContext) -> StepResult:
    unmet = _unmet(step, ctx.results)
    if unmet:
        return step.result(Status.SKIPPED, f"Skipped: {'; '.join(unmet)}.")
    found = _guarded(step, lambda: step.check(ctx))
    if not (ctx.apply and step.can_fix and found.status is Status.ACTION_NEEDED):
        return found
    changes: list[Any] = []

    def fix_then_check() -> StepResult:
        try:
            changes.extend(step.fix(ctx, found))
        finally:
            ctx.forget_reads()  # the org changed (perhaps only partly): check what is there now
        return step.check(ctx)

    after = _guarded(step, fix_then_check)
    if after.status is Status.OK:
        message = f"Fixed: {found.message} Now: {after.message}"
    else:
        message = f"The fix did not finish: {after.message}"
    return dataclasses.replace(after, message=message, changes=tuple(changes))


def run_steps(
    ctx: RunContext,
    *,
    steps: Iterable[Step] = STEPS,
    on_result: OnResult | None = None,
    redactor: Redactor = REDACTOR,
) -> list[StepResult]:
    """Run every step in order; each (redacted) result goes to `on_result` as soon as it is known."""
    results = []
    ctx.forget_reads()  # one pass over the steps shares one read of the org
    for step in steps:
        started = time.perf_counter()
        result = run_step(step, ctx)
        result = redact_result(dataclasses.replace(result, duration=time.perf_counter() - started), redactor)
        ctx.results[step.id] = result
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
