"""Shared fixtures: a real sandbox on an ephemeral loopback port, and sessions routed to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from lsqsf_helpers.http import mount_sandbox
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
def sf_session(sandbox: Sandbox) -> Iterator[requests.Session]:
    """A plain requests.Session whose vendor traffic goes to the sandbox (no retries: wire tests see every answer)."""
    session = requests.Session()
    mount_sandbox(session, sandbox.url)
    yield session
    session.close()
