"""LeadSquared, through requests on lsqsf's one session.

Validates API keys with `Authentication.svc/UserByAccessKey.Get` (documented to answer on every
regional host), reads the key owner's role, and compares the configured host with the tenant's own
host from `LSQCommonServiceURLs.api`. Throttling comes two ways: HTTP 429, retried with back-off by
the session (urllib3), and HTTP 200 carrying `MXAPIRateLimitExceededException`, retried here with
tenacity.
Source: reference/leadsquared-api.md §2-§4.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import requests
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from lsqsf_helpers.errors import LeadSquaredFailure
from lsqsf_helpers.lsq_regions import region_for_host

log = logging.getLogger(__name__)

ADMIN_ROLES = frozenset({"Administrator", "Super Administrator"})
KEYS_PAGE = "My Account > Settings > API and Webhooks > API Access Keys"


class Throttled(LeadSquaredFailure):
    """LeadSquared said slow down; retried with back-off before it is reported."""


@dataclass(frozen=True)
class KeyOwner:
    user_id: str
    name: str
    email: str
    role: str
    org_id: str
    tenant_host: str

    @property
    def is_admin(self) -> bool:
        return self.role in ADMIN_ROLES


@dataclass(frozen=True)
class LeadSquaredKeys:
    host: str
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)


class LeadSquaredClient:
    def __init__(
        self,
        keys: LeadSquaredKeys,
        session: requests.Session,
        *,
        attempts: int = 5,
        wait_initial: float = 1.0,
        wait_max: float = 6.0,
    ) -> None:
        self.keys = keys
        self.session = session
        self._retrying = Retrying(
            retry=retry_if_exception_type(Throttled),
            stop=stop_after_attempt(attempts),
            wait=wait_exponential_jitter(multiplier=wait_initial, max=wait_max),
            reraise=False,
        )

    def _get(self, path: str) -> Any:
        headers = {"x-LSQ-AccessKey": self.keys.access_key, "x-LSQ-SecretKey": self.keys.secret_key}
        url = f"https://{self.keys.host}/v2/{path}"
        try:
            for attempt in self._retrying:
                with attempt:
                    return self._get_once(url, headers)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise LeadSquaredFailure(
                f"LeadSquared kept throttling the keys ({last})",
                exception_type="MXAPIRateLimitExceededException",
                status=429,
                remedy="wait a minute and run again; other integrations may be using the same keys",
            ) from None
        raise AssertionError("unreachable")

    def _get_once(self, url: str, headers: dict[str, str]) -> Any:
        try:
            response = self.session.get(url, headers=headers)
        except requests.RequestException as exc:
            raise LeadSquaredFailure(
                f"LeadSquared could not be reached at {self.keys.host} ({type(exc).__name__})",
                remedy="check the network and proxy (HTTPS_PROXY), then run again",
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body if isinstance(body, dict) and body.get("Status") == "Error" else None
        if (
            error
            and error.get("ExceptionType") == "MXAPIRateLimitExceededException"
            and response.status_code == 200
        ):
            # throttling reported inside a 200 (third-party observation): the session's retries cannot see it
            log.info("LeadSquared throttled the call; backing off")
            raise Throttled(str(error.get("ExceptionMessage", "")), status=200)
        if response.status_code == 429:  # the session already retried with back-off; report it
            raise LeadSquaredFailure(
                f"LeadSquared kept throttling the keys ({(error or {}).get('ExceptionMessage', 'HTTP 429')})",
                exception_type=str((error or {}).get("ExceptionType", "")),
                status=429,
                remedy="wait a minute and run again; other integrations may be using the same keys",
            )
        if response.status_code == 401:
            message = str((error or {}).get("ExceptionMessage", "Unauthorized"))
            raise LeadSquaredFailure(
                f"LeadSquared refused the keys: {message}",
                exception_type=str((error or {}).get("ExceptionType", "")),
                status=401,
                remedy=f"check leadsquared.access_key and secret_key against {KEYS_PAGE}; a deactivated user's "
                "keys stop working, so generate keys for an active administrator",
            )
        if response.status_code >= 400 or error:
            raise LeadSquaredFailure(
                f"LeadSquared answered {response.status_code}: {(error or {}).get('ExceptionMessage', '')}".strip(),
                exception_type=str((error or {}).get("ExceptionType", "")),
                status=response.status_code,
                remedy="run again later; if it persists, contact LeadSquared support",
            )
        return body

    def key_owner(self) -> KeyOwner:
        """Who the keys belong to, and the tenant's own API host."""
        body = self._get("Authentication.svc/UserByAccessKey.Get")
        if not isinstance(body, dict):
            raise LeadSquaredFailure("UserByAccessKey.Get answered something other than a user")
        urls = body.get("LSQCommonServiceURLs") or {}
        tenant_host = str(urls.get("api") or self.keys.host).lower()
        return KeyOwner(
            user_id=str(body.get("Id", "")),
            name=str(body.get("Name", "")),
            email=str(body.get("EmailAddress") or body.get("PassPhrase") or ""),
            role=str(body.get("Role", "")),
            org_id=str(body.get("OrgId", "")),
            tenant_host=tenant_host,
        )


def region_hint(host: str) -> str:
    """How to name a host in an org file: `region: in21` for a documented host, else the host itself."""
    region = region_for_host(host)
    return f"leadsquared.region: {region.code}" if region else f"leadsquared.host: {host}"
