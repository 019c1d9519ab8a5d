"""LeadSquared tenants, users and API keys, and the rules the API applies to them. No HTTP here.

One tenant per practice org. Its key owner's access and secret keys are derived from the org label
(so they survive a reset and are the same on every run), its region comes from the scenario, and
its rules are the documented ones (docs/sandbox-leadsquared.md has the sources):
- unknown keys, a wrong secret, missing keys or a deactivated key owner: 401;
- tenant endpoints on another region's host: 401 naming the tenant's host;
- 25 admitted calls per key in any 5-second window; the 26th answers 429;
- a scenario's `lsq_throttled_calls`: the first N calls with the key answer HTTP 200 with a
  MXAPIRateLimitExceededException body (a variant reported by third parties, not documented).
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lsqsf_helpers.lsq_regions import REGIONS, Region
from lsqsf_helpers.sandbox.messages import Request
from lsqsf_helpers.sandbox.scenarios import ScenarioSpec

RATE_LIMIT_CALLS = 25
RATE_LIMIT_WINDOW_SECONDS = 5.0
RATE_LIMIT_TYPE = "MXAPIRateLimitExceededException"
RATE_LIMIT_MESSAGE = (
    f"API calls exceeded the limit of {RATE_LIMIT_CALLS} in {RATE_LIMIT_WINDOW_SECONDS:g} second(s)"
)
UNAUTHORIZED_TYPE = "MXUnAuthorizedAccessException"
BAD_KEYS_MESSAGE = (
    "Invalid access credentials: check the AccessKey and SecretKey and that their user is active."
)
MISSING_KEYS_MESSAGE = "AccessKey and SecretKey are required (x-LSQ-AccessKey/x-LSQ-SecretKey headers)."

STATUS_ACTIVE = 0  # Users.Get StatusCode values (apidocs.leadsquared.com/get-users)
STATUS_INACTIVE = 1

ADMIN_ROLE = "Administrator"
TIME_ZONES = {
    "sg": "Asia/Singapore",
    "us11": "America/New_York",
    "in21": "Asia/Kolkata",
    "in22": "Asia/Kolkata",
    "ir31": "Europe/Dublin",
    "ca12": "America/Toronto",
    "me61": "Asia/Dubai",
}
COUNTRY_CODES = {
    "sg": "+65",
    "us11": "+1",
    "in21": "+91",
    "in22": "+91",
    "ir31": "+353",
    "ca12": "+1",
    "me61": "+971",
}


class LsqApiError(Exception):
    """A refusal LeadSquared answers with its JSON error body. `status` is the HTTP status: 200 for
    the throttling variant that arrives inside a success status."""

    def __init__(self, status: int, exception_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.exception_type = exception_type
        self.message = message


@dataclass(frozen=True)
class User:
    id: str  # GUID
    first_name: str
    last_name: str
    email: str
    role: str
    status_code: int  # STATUS_ACTIVE or STATUS_INACTIVE
    access_key: str = ""  # "" for a user who never generated API keys
    secret_key: str = ""

    @property
    def active(self) -> bool:
        return self.status_code == STATUS_ACTIVE

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class Tenant:
    label: str
    region: Region  # where the tenant lives
    configured_region: (
        Region  # what an org file for this practice org names (wrong on purpose for wrong-lsq-region)
    )
    org_id: int
    short_code: str
    display_name: str
    unique_name: str
    time_zone: str
    country_code: str
    key_owner: User
    users: tuple[User, ...]


def _digest(label: str, purpose: str) -> str:
    return hashlib.sha256(f"lsqsf-sandbox:{purpose}:{label}".encode()).hexdigest()


def _guid(label: str, purpose: str) -> str:
    return str(uuid.UUID(hex=_digest(label, purpose)[:32]))


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "org"


def request_keys(request: Request) -> tuple[str, str]:
    """The (access key, secret key) a request carries: the x-LSQ-* headers (any case) win over the
    accessKey/secretKey query parameters (names matched without regard to case, as WCF does)."""
    query = {name.lower(): values[0] for name, values in request.query.items() if values}
    access = request.headers.get_header("x-LSQ-AccessKey") or query.get("accesskey", "")
    secret = request.headers.get_header("x-LSQ-SecretKey") or query.get("secretkey", "")
    return access.strip(), secret.strip()


class LeadSquaredModel:
    """Every tenant of the sandbox. Not thread-safe on its own: the app calls it under its lock."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.tenants: dict[str, Tenant] = {}
        self._by_access_key: dict[str, Tenant] = {}
        self._throttled_left: dict[str, int] = {}  # access key -> first calls still to throttle
        self._windows: dict[str, deque[float]] = {}  # access key -> times of admitted calls in the window

    # ----- state ------------------------------------------------------------------------------
    def add_tenant(self, label: str, spec: ScenarioSpec) -> None:
        if label in self.tenants:
            raise ValueError(f"a LeadSquared tenant for {label!r} exists already")
        region = REGIONS[spec.lsq_region]
        configured = REGIONS[spec.lsq_configured_region or spec.lsq_region]
        slug = _slug(label)
        org_id = 10000 + int(_digest(label, "org")[:8], 16) % 90000
        taken = {tenant.org_id for tenant in self.tenants.values()}
        while org_id in taken:  # deterministic for a given load order, which reset() keeps
            org_id += 1
        is_admin = spec.lsq_role == ADMIN_ROLE
        owner = User(
            id=_guid(label, "key-owner"),
            first_name="Practice",
            last_name="Admin" if is_admin else "User",
            email=f"{slug}.lsq-{'admin' if is_admin else 'user'}@example.com",
            role=spec.lsq_role,
            status_code=STATUS_ACTIVE if spec.lsq_keys_valid else STATUS_INACTIVE,
            access_key="u$r" + _digest(label, "access-key")[:32],
            secret_key=_digest(label, "secret-key")[:40],
        )
        colleague = User(
            id=_guid(label, "colleague"),
            first_name="Team",
            last_name="Colleague",
            email=f"{slug}.lsq-colleague@example.com",
            role="Sales User" if is_admin else ADMIN_ROLE,
            status_code=STATUS_ACTIVE,
        )
        tenant = Tenant(
            label=label,
            region=region,
            configured_region=configured,
            org_id=org_id,
            short_code=f"lsq{org_id}",
            display_name=f"lsqsf practice org {label}",
            unique_name=f"lsqsf-{slug}",
            time_zone=TIME_ZONES.get(region.code, "UTC"),
            country_code=COUNTRY_CODES.get(region.code, ""),
            key_owner=owner,
            users=(owner, colleague),
        )
        self.tenants[label] = tenant
        self._by_access_key[owner.access_key] = tenant
        self._throttled_left[owner.access_key] = spec.lsq_throttled_calls
        self._windows[owner.access_key] = deque()

    def tenant(self, label: str) -> Tenant:
        try:
            return self.tenants[label]
        except KeyError:
            raise KeyError(f"no LeadSquared tenant for org {label!r}") from None

    def tenant_summary(self, label: str) -> dict[str, Any]:
        tenant = self.tenant(label)
        owner = tenant.key_owner
        return {
            "region": tenant.region.code,
            "host": tenant.region.host,
            "configured_region": tenant.configured_region.code,
            "configured_host": tenant.configured_region.host,
            "access_key": owner.access_key,
            "secret_key": owner.secret_key,
            "user_email": owner.email,
            "user_active": owner.active,
            "role": owner.role,
            "org_id": tenant.org_id,
            "org_short_code": tenant.short_code,
        }

    def org_for_request(self, request: Request) -> str | None:
        access_key, _ = request_keys(request)
        tenant = self._by_access_key.get(access_key)
        return tenant.label if tenant else None

    # ----- rules ------------------------------------------------------------------------------
    def authenticate(self, access_key: str, secret_key: str) -> tuple[Tenant, User]:
        """The tenant and active user owning these keys, or a 401 LsqApiError."""
        if not access_key or not secret_key:
            raise LsqApiError(401, UNAUTHORIZED_TYPE, MISSING_KEYS_MESSAGE)
        tenant = self._by_access_key.get(access_key)
        if tenant is None or tenant.key_owner.secret_key != secret_key or not tenant.key_owner.active:
            raise LsqApiError(401, UNAUTHORIZED_TYPE, BAD_KEYS_MESSAGE)
        return tenant, tenant.key_owner

    def admit(self, access_key: str) -> None:
        """Count one call with this key, or refuse it: scenario throttling first, then the 5 s window."""
        left = self._throttled_left.get(access_key, 0)
        if left > 0:
            self._throttled_left[access_key] = left - 1
            raise LsqApiError(200, RATE_LIMIT_TYPE, RATE_LIMIT_MESSAGE)
        now = self.clock()
        window = self._windows.setdefault(access_key, deque())
        while window and now - window[0] >= RATE_LIMIT_WINDOW_SECONDS:
            window.popleft()
        if len(window) >= RATE_LIMIT_CALLS:
            raise LsqApiError(429, RATE_LIMIT_TYPE, RATE_LIMIT_MESSAGE)
        window.append(now)

    def user_by_access_key(self, access_key: str, secret_key: str) -> tuple[Tenant, User]:
        """Authenticate a User: works on every regional host."""
        tenant, user = self.authenticate(access_key, secret_key)
        self.admit(access_key)
        return tenant, user

    def users(self, access_key: str, secret_key: str, host: str) -> tuple[User, ...]:
        """Get Users: a tenant endpoint, answered only on the tenant's own regional host."""
        tenant, _ = self.authenticate(access_key, secret_key)
        self.check_host(tenant, host)
        self.admit(access_key)
        return tenant.users

    @staticmethod
    def check_host(tenant: Tenant, host: str) -> None:
        if host != tenant.region.host:
            raise LsqApiError(
                401,
                UNAUTHORIZED_TYPE,
                f"This account is not served from {host}. Please use {tenant.region.host} as the API host.",
            )
