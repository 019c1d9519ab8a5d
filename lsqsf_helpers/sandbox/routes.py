"""The one route table: every endpoint the sandbox answers, per vendor."""

from __future__ import annotations

import re

from lsqsf_helpers.sandbox import control
from lsqsf_helpers.sandbox.leadsquared import wire as lsq_wire
from lsqsf_helpers.sandbox.routing import Route
from lsqsf_helpers.sandbox.salesforce import wire as sf_wire

ROUTES: tuple[Route, ...] = (*sf_wire.ROUTES, *lsq_wire.ROUTES, *control.ROUTES)


def find(vendor: str, method: str, path: str) -> tuple[Route, re.Match[str]] | None:
    """The first route of that vendor whose method and path match."""
    for entry in ROUTES:
        if entry.vendor == vendor and entry.method == method:
            match = entry.pattern.match(path)
            if match:
                return entry, match
    return None
