"""Fixtures of the `lsqsf batch` tests (helpers live in batchkit.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from batchkit import set_faults

from lsqsf_helpers.sandbox import Sandbox


@pytest.fixture
def faults(sandbox: Sandbox) -> Iterator[Callable[[dict[str, Any]], None]]:
    """Set a fault rule for the test; injection is switched off afterwards whatever happens."""
    try:
        yield lambda rule: set_faults(sandbox, rule)
    finally:
        set_faults(sandbox, {"rate": 0})
