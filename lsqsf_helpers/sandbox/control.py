"""The sandbox's control API: list, add and reset practice orgs, read the call log, inject faults.

Served on the loopback names only (127.0.0.1, localhost), under /_sandbox/; every body is JSON and
every refusal is `400 {"error": "...", "field": "..."}` naming the field. Handlers get the
`SandboxApp` and run under its lock. Reference: docs/sandbox-control.md.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lsqsf_helpers.sandbox import scenarios
from lsqsf_helpers.sandbox.faults import FaultConfigError, FaultRule
from lsqsf_helpers.sandbox.messages import Request, Response
from lsqsf_helpers.sandbox.routing import Route, route

if TYPE_CHECKING:
    from lsqsf_helpers.sandbox.app import SandboxApp

VENDOR = "control"
API = "control"
MAX_NEW_ORGS = 500


class BadRequest(ValueError):
    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def _bad(exc: BadRequest) -> Response:
    payload = {"error": str(exc)}
    if exc.field:
        payload["field"] = exc.field
    return Response.json(400, payload)


def _body(request: Request) -> dict[str, Any]:
    try:
        payload = request.json()
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("body must be a JSON object", "body") from None
    if not isinstance(payload, dict):
        raise BadRequest("body must be a JSON object", "body")
    return payload


def _list_orgs(app: SandboxApp, request: Request, match: re.Match[str]) -> Response:
    return Response.json(200, {"orgs": app.orgs()})


def _parse_new_orgs(payload: dict[str, Any]) -> tuple[str, int, str | None]:
    unknown = sorted(set(payload) - {"scenario", "count", "label"})
    if unknown:
        raise BadRequest(f"unknown field(s) {unknown}; allowed: ['count', 'label', 'scenario']", unknown[0])
    scenario = payload.get("scenario")
    if not isinstance(scenario, str) or scenario not in scenarios.SCENARIOS:
        raise BadRequest(f"scenario must be one of: {', '.join(scenarios.SCENARIOS)}", "scenario")
    count = payload.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_NEW_ORGS:
        raise BadRequest(f"count must be an integer from 1 to {MAX_NEW_ORGS}", "count")
    label = payload.get("label")
    if label is not None:
        if count != 1:
            raise BadRequest("label may be given only when count is 1", "label")
        if not isinstance(label, str):
            raise BadRequest("label must be a string", "label")
    return scenario, count, label


def _add_orgs(app: SandboxApp, request: Request, match: re.Match[str]) -> Response:
    try:
        scenario, count, label = _parse_new_orgs(_body(request))
    except BadRequest as exc:
        return _bad(exc)
    if label is not None:
        try:  # the models own the label rules (it becomes part of a My Domain host) and refuse duplicates
            return Response.json(201, {"orgs": [app.add_org(scenario, label)]})
        except ValueError as exc:
            return _bad(BadRequest(f"label: {exc}", "label"))
    return Response.json(201, {"orgs": [app.add_org(scenario) for _ in range(count)]})


def _reset(app: SandboxApp, request: Request, match: re.Match[str]) -> Response:
    app.reset()
    return Response.json(200, {"reset": True, "orgs": len(app.loaded)})


def _calls(app: SandboxApp, request: Request, match: re.Match[str]) -> Response:
    return Response.json(200, app.calls.summary())


def _get_faults(app: SandboxApp, request: Request, match: re.Match[str]) -> Response:
    return Response.json(200, app.faults.rule.as_dict())


def _set_faults(app: SandboxApp, request: Request, match: re.Match[str]) -> Response:
    try:
        rule = FaultRule.parse(_body(request))
    except BadRequest as exc:
        return _bad(exc)
    except FaultConfigError as exc:
        return Response.json(400, {"error": str(exc)})
    app.faults.configure(rule)
    return Response.json(200, rule.as_dict())


def _scenarios(app: SandboxApp, request: Request, match: re.Match[str]) -> Response:
    return Response.json(
        200,
        {
            "scenarios": [
                {"name": spec.name, "summary": spec.summary} for spec in scenarios.SCENARIOS.values()
            ]
        },
    )


ROUTES: tuple[Route, ...] = (
    route(VENDOR, "GET", r"/_sandbox/orgs/?", _list_orgs, API),
    route(VENDOR, "POST", r"/_sandbox/orgs/?", _add_orgs, API),
    route(VENDOR, "POST", r"/_sandbox/reset/?", _reset, API),
    route(VENDOR, "GET", r"/_sandbox/calls/?", _calls, API),
    route(VENDOR, "GET", r"/_sandbox/faults/?", _get_faults, API),
    route(VENDOR, "POST", r"/_sandbox/faults/?", _set_faults, API),
    route(VENDOR, "GET", r"/_sandbox/scenarios/?", _scenarios, API),
)
