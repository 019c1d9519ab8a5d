"""`lsqsf check` in-process: validate every org first, then run the steps org by org.

Validation (shapes, secret references, files and variables present) happens for the whole file
before any network call, so bad input costs nothing and changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsqsf_helpers import http
from lsqsf_helpers.connect import build_context
from lsqsf_helpers.errors import Failure, UsageError
from lsqsf_helpers.params import OrgParams, load_org_file
from lsqsf_helpers.runbook import RunRecord, now_iso, run_steps
from lsqsf_helpers.secrets import check_available

SECRET_PATHS = (
    ("salesforce", "password"),
    ("salesforce", "security_token"),
    ("salesforce", "access_token"),
    ("salesforce", "consumer_secret"),
    ("salesforce", "private_key"),
    ("leadsquared", "access_key"),
    ("leadsquared", "secret_key"),
)


def load_and_validate(path: Path, *, sandbox_mode: bool, interactive: bool = False) -> list[OrgParams]:
    """Parsed orgs whose secret references all point at something usable; else the first UsageError."""
    orgs = load_org_file(path)
    for index, org in enumerate(orgs):
        where = f"orgs[{index}]." if len(orgs) > 1 else ""
        if org.sandbox_scenario and not sandbox_mode:
            pass  # a real org file may keep the scenario name for training; it is ignored without --sandbox
        for section, name in SECRET_PATHS:
            ref = getattr(getattr(org, section), name)
            if ref is not None:
                check_available(ref, f"{where}{section}.{name}", interactive=interactive)
        if not sandbox_mode or not org.sandbox_scenario:
            _require_credentials(org, where)
    return orgs


def _require_credentials(org: OrgParams, where: str) -> None:
    lsq = org.leadsquared
    for name in ("access_key", "secret_key"):
        if getattr(lsq, name) is None:
            raise UsageError(
                "is required (a reference such as env:LSQ_ACCESS_KEY)",
                field=f"{where}leadsquared.{name}",
                remedy="or run with --sandbox and a sandbox_scenario to borrow a practice org's keys",
            )


def check_org(
    org: OrgParams,
    *,
    apply: bool,
    sandbox_url: str | None,
    borrowed: dict[str, Any] | None = None,
    on_result: Callable[[Any], None] | None = None,
) -> RunRecord:
    """One org, all steps. Bad input for this org ends up in the record's `error`, not as an exception."""
    record = RunRecord(
        org=org.label,
        mode="apply" if apply else "check",
        started=now_iso(),
        sandbox_scenario=org.sandbox_scenario,
    )
    started = time.perf_counter()
    counter = http.CallCounter()
    session = http.new_session(sandbox_url=sandbox_url, counter=counter)
    try:
        ctx = build_context(org, apply=apply, session=session, borrowed=borrowed)
        record.steps = run_steps(ctx, on_result=on_result)
    except (UsageError, Failure) as exc:
        record.error = str(exc)
    finally:
        session.close()
        record.duration = time.perf_counter() - started
        record.http_calls = counter.snapshot()
    return record


def check_orgs(
    orgs: list[OrgParams],
    *,
    apply: bool,
    sandbox_url: str | None,
    on_record: Callable[[RunRecord], None] | None = None,
) -> list[RunRecord]:
    practice = http.sandbox_orgs(sandbox_url) if sandbox_url else {}
    records = []
    for org in orgs:
        borrowed = None
        if sandbox_url and org.sandbox_scenario:
            borrowed = practice.get(org.sandbox_scenario)
            if borrowed is None:
                raise UsageError(
                    f"the sandbox has no practice org {org.sandbox_scenario!r}",
                    field=f"{org.label}.sandbox_scenario",
                    remedy=f"choose one of: {', '.join(sorted(practice))}",
                )
        record = check_org(org, apply=apply, sandbox_url=sandbox_url, borrowed=borrowed)
        records.append(record)
        if on_record is not None:
            on_record(record)
    return records
