"""Shared fixtures: a real sandbox on an ephemeral loopback port, and sessions routed to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from sandboxkit import set_faults

from lsqsf_helpers import http
from lsqsf_helpers.http import mount_sandbox
from lsqsf_helpers.leadsquared import LeadSquaredClient
from lsqsf_helpers.salesforce import SalesforceClient
from lsqsf_helpers.sandbox import Sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """Every scenario loaded once per test module; tests that change state call `sandbox.app.reset()`."""
    with Sandbox() as sb:
        yield sb


@pytest.fixture
def fresh_sandbox(sandbox: Sandbox) -> Sandbox:
    """The module's sandbox, reset to its loaded state before the test."""
    sandbox.app.reset()
    return sandbox


@pytest.fixture
def faults(sandbox: Sandbox) -> Iterator[Callable[[dict[str, Any]], None]]:
    """Set a fault rule for the test; injection is switched off afterwards whatever happens."""
    try:
        yield lambda rule: set_faults(sandbox, **rule)
    finally:
        set_faults(sandbox, rate=0)


@pytest.fixture
def sf_session(sandbox: Sandbox) -> Iterator[requests.Session]:
    """A plain requests.Session whose vendor traffic goes to the sandbox (no retries: wire tests see every answer)."""
    session = requests.Session()
    mount_sandbox(session, sandbox.url)
    yield session
    session.close()


@pytest.fixture
def short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Back-off and install-poll waits cut to milliseconds so fault tests stay fast; retry counts, poll
    counts and timeouts are unchanged."""
    monkeypatch.setitem(http.new_session.__kwdefaults__, "backoff", 0.01)
    monkeypatch.setitem(http.new_session.__kwdefaults__, "backoff_max", 0.05)
    monkeypatch.setitem(LeadSquaredClient.__init__.__kwdefaults__, "wait_max", 0.05)
    monkeypatch.setitem(SalesforceClient.install_package.__kwdefaults__, "poll_interval", 0.01)
    monkeypatch.delenv("LSQSF_READ_TIMEOUT", raising=False)


@pytest.fixture
def counters(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[http.CallCounter]]:
    """Every CallCounter a run creates, in creation order (one per org), to compare calls with attempts."""
    made: list[http.CallCounter] = []

    class Recording(http.CallCounter):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    monkeypatch.setattr(http, "CallCounter", Recording)
    yield made
