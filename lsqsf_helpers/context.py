"""What every step of one org's run shares: parameters, mode, lazily opened vendor clients, results so far.

Clients open on first use and failures are remembered, so a login that failed is not tried again by
every later step (and each step reports the same failure in its own terms). What the steps read from
Salesforce is fetched in two composite calls (REST, Tooling) on first need and shared by every step
until `forget_reads`: after a fix, and before a check the admin asks for again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lsqsf_helpers.errors import Failure
from lsqsf_helpers.leadsquared import KeyOwner, LeadSquaredClient
from lsqsf_helpers.results import StepResult
from lsqsf_helpers.salesforce import (
    InstalledPackage,
    OrgInfo,
    OrgReads,
    RemoteSite,
    RunningUser,
    SalesforceClient,
    SetupReads,
    value_of,
)


@dataclass
class ConnectorTarget:
    """The connector facts the steps compare against (from the org's `connector:` section)."""

    package_version_id: str | None
    namespace: str | None
    package_name: str
    remote_site_name: str
    page_url: str | None
    authenticated: bool
    access_key_ref: str = ""
    secret_key_ref: str = ""


@dataclass
class RunContext:
    label: str
    apply: bool
    connector: ConnectorTarget
    lsq_configured_host: str
    open_salesforce: Callable[[], SalesforceClient]
    open_leadsquared: Callable[[], LeadSquaredClient]
    login_hint: str = ""  # the Salesforce login host or My Domain, for links when login fails
    is_sandbox_login: bool = False
    results: dict[str, StepResult] = field(default_factory=dict)
    salesforce_api: bool = True  # False once the org answered API_DISABLED_FOR_ORG
    _sf: SalesforceClient | None = None
    _sf_failure: Failure | None = None
    _lsq: LeadSquaredClient | None = None
    _owner: KeyOwner | Failure | None = None
    _org_reads: OrgReads | None = None
    _setup_reads: SetupReads | None = None

    def salesforce(self) -> SalesforceClient:
        if self._sf_failure is not None:
            raise self._sf_failure
        if self._sf is None:
            try:
                self._sf = self.open_salesforce()
            except Failure as exc:
                self._sf_failure = exc
                raise
        return self._sf

    def forget_reads(self) -> None:
        """Read the org again on next need (the org may have changed: a fix, or the admin in Setup)."""
        self._org_reads = None
        self._setup_reads = None

    def _org(self) -> OrgReads:
        if self._org_reads is None:
            self._org_reads = self.salesforce().org_reads()
        return self._org_reads

    def _setup(self) -> SetupReads:
        if self._setup_reads is None:
            self._setup_reads = self.salesforce().setup_reads(self.connector.remote_site_name)
        return self._setup_reads

    def running_user(self) -> RunningUser:
        return value_of(self._org().user)

    def organization(self) -> OrgInfo:
        return value_of(self._org().organization)

    def installed_packages(self) -> list[InstalledPackage]:
        return value_of(self._setup().packages)

    def remote_site(self) -> RemoteSite | None:
        """The connector's remote site (connector.remote_site_name), or None when there is none."""
        return value_of(self._setup().remote_site)

    def key_owner(self) -> KeyOwner:
        """The LeadSquared key owner, asked once per run (the answer or the failure is kept)."""
        if self._owner is None:
            try:
                if self._lsq is None:
                    self._lsq = self.open_leadsquared()
                self._owner = self._lsq.key_owner()
            except Failure as exc:
                self._owner = exc
        if isinstance(self._owner, Failure):
            raise self._owner
        return self._owner

    @property
    def instance_host(self) -> str:
        return self._sf.instance_host if self._sf is not None else self.login_hint
