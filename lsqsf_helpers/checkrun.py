"""`lsqsf check` in-process: validate every org first, then run the steps org by org.

Validation (shapes, secret references, files and variables present) happens for the whole file
before any network call, so bad input costs nothing and changes nothing. In sandbox mode every
org's practice org is looked up before the first org runs, for the same reason.

The read timeout of every vendor call is 30 seconds; `LSQSF_READ_TIMEOUT` (seconds) or the
`read_timeout` argument changes it, e.g. for a slow proxy or for tests of timeouts.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsqsf_helpers.errors import Failure, UsageError
from lsqsf_helpers.params import OrgParams, load_org_file
from lsqsf_helpers.secrets import check_available

if TYPE_CHECKING:
    from lsqsf_helpers.runbook import RunRecord

# Validation needs only params and secrets. The modules that call the vendors (http and requests,
# connect, runbook and the steps with simple-salesforce, zeep and jwt: about 0.3 s) are imported by
# the functions that use them, so refusing bad input stays quick.

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
READ_TIMEOUT_ENV = "LSQSF_READ_TIMEOUT"
READ_TIMEOUT_MAX = 600.0

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


def read_timeout_from_env() -> float:
    """The read timeout in seconds: LSQSF_READ_TIMEOUT when set (a number above 0, at most 600), else 30."""
    text = os.environ.get(READ_TIMEOUT_ENV, "").strip()
    if not text:
        return READ_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= READ_TIMEOUT_MAX:  # also refuses nan and inf
        raise UsageError(
            f"must be a number of seconds above 0 and at most {READ_TIMEOUT_MAX:g}, not {text!r}",
            field=READ_TIMEOUT_ENV,
            remedy=f"unset it for the default of {READ_TIMEOUT:g} seconds",
        )
    return seconds


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
    read_timeout: float | None = None,
) -> RunRecord:
    """One org, all steps. Bad input for this org ends up in the record's `error`, not as an exception.

    `read_timeout` (seconds) bounds the wait for each answer; None: `read_timeout_from_env()`.
    """
    from lsqsf_helpers import http
    from lsqsf_helpers.connect import build_context
    from lsqsf_helpers.runbook import RunRecord, now_iso, run_steps

    record = RunRecord(
        org=org.label,
        mode="apply" if apply else "check",
        started=now_iso(),
        sandbox_scenario=org.sandbox_scenario,
    )
    started = time.perf_counter()
    counter = http.CallCounter()
    timeout = (CONNECT_TIMEOUT, read_timeout if read_timeout is not None else read_timeout_from_env())
    session = http.new_session(sandbox_url=sandbox_url, counter=counter, timeout=timeout)
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


def practice_orgs(orgs: list[OrgParams], sandbox_url: str | None) -> list[dict[str, Any] | None]:
    """Per org, the sandbox practice org it borrows from (None when it names no sandbox_scenario).

    Every org is looked up before any org runs, so an unknown scenario is refused before any vendor call.
    """
    if not sandbox_url or not any(org.sandbox_scenario for org in orgs):
        return [None] * len(orgs)
    from lsqsf_helpers import http

    practice = http.sandbox_orgs(sandbox_url)
    borrowed: list[dict[str, Any] | None] = []
    for index, org in enumerate(orgs):
        found = practice.get(org.sandbox_scenario) if org.sandbox_scenario else None
        if org.sandbox_scenario and found is None:
            where = f"orgs[{index}]." if len(orgs) > 1 else ""
            raise UsageError(
                f"the sandbox has no practice org {org.sandbox_scenario!r}",
                field=f"{where}sandbox_scenario",
                remedy=f"choose one of: {', '.join(sorted(practice))}",
            )
        borrowed.append(found)
    return borrowed


def check_orgs(
    orgs: list[OrgParams],
    *,
    apply: bool,
    sandbox_url: str | None,
    on_record: Callable[[RunRecord], None] | None = None,
    read_timeout: float | None = None,
) -> list[RunRecord]:
    borrowed = practice_orgs(orgs, sandbox_url)
    records = []
    for org, lent in zip(orgs, borrowed, strict=True):
        record = check_org(
            org, apply=apply, sandbox_url=sandbox_url, borrowed=lent, read_timeout=read_timeout
        )
        records.append(record)
        if on_record is not None:
            on_record(record)
    return records
