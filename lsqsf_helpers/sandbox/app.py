"""The sandbox application: host dispatch, fault injection and the call log around the vendor wires.

Knows nothing about sockets (server.py does) and nothing about vendor rules (the models do): it
decides which vendor a request is for, which org it belongs to, whether a fault hits it, and which
route answers it.
"""

from __future__ import annotations

import logging
import threading
import time
from types import ModuleType
from typing import Any

from lsqsf_helpers.lsq_regions import API_HOST_PATTERN
from lsqsf_helpers.sandbox import routes, scenarios
from lsqsf_helpers.sandbox.calllog import CallLog
from lsqsf_helpers.sandbox.faults import FaultInjector
from lsqsf_helpers.sandbox.leadsquared import wire as lsq_wire
from lsqsf_helpers.sandbox.leadsquared.models import LeadSquaredModel
from lsqsf_helpers.sandbox.messages import Request, Response
from lsqsf_helpers.sandbox.salesforce import wire as sf_wire
from lsqsf_helpers.sandbox.salesforce.models import SalesforceModel

log = logging.getLogger(__name__)

CONTROL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
# Each vendor wire answers in its own format: fault_response(kind, request), not_found(request),
# too_large(request), internal_error(request) (SOAP paths need SOAP faults, JSON paths JSON bodies).
WIRES: dict[str, ModuleType] = {"salesforce": sf_wire, "leadsquared": lsq_wire}


def vendor_for_host(host: str) -> str | None:
    """Which emulated service a Host header names, or None for a host the sandbox does not serve."""
    if host in CONTROL_HOSTS:
        return "control"
    if host == "salesforce.com" or host.endswith(".salesforce.com"):
        return "salesforce"
    if API_HOST_PATTERN.match(host):
        return "leadsquared"
    return None


def is_read(vendor: str, request: Request) -> bool:
    """Whether a request changes nothing: a GET, or a Salesforce composite call of GETs only.

    Scenario flakiness hits reads, and the call log marks them, so tests can tell a check from a fix.
    """
    if request.method in ("GET", "HEAD"):
        return True
    return vendor == "salesforce" and sf_wire.is_read_only_composite(request)


class SandboxApp:
    """All sandbox state behind one lock; `handle` is safe to call from many server threads."""

    def __init__(self, scenario_names: list[str] | None = None) -> None:
        self.lock = threading.RLock()
        self.calls = CallLog()
        self.faults = FaultInjector()
        self.loaded: list[tuple[str, str]] = []  # (org label, scenario name), in load order
        self.salesforce = SalesforceModel()
        self.leadsquared = LeadSquaredModel()
        for name in scenario_names if scenario_names is not None else list(scenarios.SCENARIOS):
            self.add_org(name)

    # ----- orgs -------------------------------------------------------------------------------
    def add_org(self, scenario_name: str, label: str | None = None) -> str:
        """Load one org of a scenario; the label defaults to the scenario name, then name-2, name-3…"""
        spec = scenarios.get(scenario_name)
        with self.lock:
            taken = {existing for existing, _ in self.loaded}
            if label is None:
                label, n = scenario_name, 1
                while label in taken:
                    n += 1
                    label = f"{scenario_name}-{n}"
            elif label in taken:
                raise ValueError(f"an org labelled {label!r} is already loaded")
            self.salesforce.add_org(label, spec)
            self.leadsquared.add_tenant(label, spec)
            self.loaded.append((label, scenario_name))
        return label

    def reset(self) -> None:
        """Back to the state right after loading: same orgs, same credentials, no faults, empty log."""
        with self.lock:
            loaded = list(self.loaded)
            self.salesforce = SalesforceModel()
            self.leadsquared = LeadSquaredModel()
            self.loaded = []
            for label, scenario_name in loaded:
                self.add_org(scenario_name, label)
            self.faults.reset()
            self.calls.clear()

    def orgs(self) -> list[dict[str, Any]]:
        with self.lock:
            return [
                {
                    "org": label,
                    "scenario": scenario_name,
                    "summary": scenarios.get(scenario_name).summary,
                    "salesforce": self.salesforce.org_summary(label),
                    "leadsquared": self.leadsquared.tenant_summary(label),
                }
                for label, scenario_name in self.loaded
            ]

    def scenario_of(self, label: str | None) -> scenarios.ScenarioSpec | None:
        for loaded_label, scenario_name in self.loaded:
            if loaded_label == label:
                return scenarios.get(scenario_name)
        return None

    # ----- requests ---------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        vendor = vendor_for_host(request.host)
        if vendor is None:
            return Response.text(
                421, f"Misdirected request: the lsqsf sandbox does not serve host {request.host!r}.\n"
            )
        if vendor == "control":
            return self._dispatch("control", request)
        model = self.salesforce if vendor == "salesforce" else self.leadsquared
        with self.lock:
            request.org = (
                self.salesforce.org_for_host(request.host)
                if vendor == "salesforce"
                else self.leadsquared.org_for_request(request)
            )
            spec = self.scenario_of(request.org)
        read = is_read(vendor, request)
        fault = self.faults.draw(vendor, request.org, read, spec.flaky_every if spec else 0)
        response = self._apply_fault(vendor, model, request, fault)
        if response is None:
            response = self._dispatch(vendor, request)
        self.calls.record(
            vendor,
            self._api_label(vendor, request),
            request.org,
            request.method,
            request.host,
            request.path,
            response.status,
            fault,
            read,
        )
        return response

    def _apply_fault(self, vendor: str, model: Any, request: Request, fault: str | None) -> Response | None:
        """A faulted answer, or None to let the request through (after a delay or an expiry)."""
        if fault is None:
            return None
        if fault == "delay":
            time.sleep(self.faults.rule.delay_seconds)
            return None
        if fault == "expire":
            if vendor == "salesforce" and request.org is not None:
                with self.lock:
                    self.salesforce.expire_sessions(request.org)
            return None
        if fault == "drop":
            return Response.dropped()
        response: Response = WIRES[vendor].fault_response(fault, request)
        return response

    def too_large(self, request: Request) -> Response:
        """The vendor's answer to a body over the sandbox's size limit."""
        vendor = vendor_for_host(request.host)
        if vendor in WIRES:
            response: Response = WIRES[vendor].too_large(request)
            return response
        return Response.text(413, "Request body too large\n")

    def _api_label(self, vendor: str, request: Request) -> str:
        found = routes.find(vendor, request.method, request.path)
        return found[0].api if found else f"{vendor}.unknown"

    def _dispatch(self, vendor: str, request: Request) -> Response:
        found = routes.find(vendor, request.method, request.path)
        if found is None:
            if vendor == "control":
                return Response.json(404, {"error": f"no control endpoint {request.method} {request.path}"})
            not_found: Response = WIRES[vendor].not_found(request)
            return not_found
        entry, match = found
        target: Any = (
            self if vendor == "control" else (self.salesforce if vendor == "salesforce" else self.leadsquared)
        )
        try:
            with self.lock:
                return entry.handler(target, request, match)
        except Exception:  # a sandbox bug must still answer like the vendor, and the server must go on
            log.exception("sandbox handler failed for %s %s%s", request.method, request.host, request.path)
            if vendor == "control":
                return Response.json(500, {"error": "internal sandbox error (see the sandbox log)"})
            internal: Response = WIRES[vendor].internal_error(request)
            return internal
