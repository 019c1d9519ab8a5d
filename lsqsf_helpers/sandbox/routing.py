"""Route values: which handler answers which vendor, method and path."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lsqsf_helpers.sandbox.messages import Request, Response

# A wire handler gets its vendor's model (or the app, for the control API), the request and the path match.
Handler = Callable[[Any, Request, "re.Match[str]"], Response]


@dataclass(frozen=True)
class Route:
    vendor: str  # "salesforce" | "leadsquared" | "control"
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    api: str  # label counted in the call log, e.g. "sf.rest", "sf.tooling", "lsq"


def route(vendor: str, method: str, pattern: str, handler: Handler, api: str) -> Route:
    return Route(vendor, method.upper(), re.compile(pattern + r"\Z"), handler, api)
