"""Named practice orgs: each scenario is one documented step left undone or broken on purpose.

A scenario is plain data; each vendor's model turns it into state (`SalesforceModel.add_org`,
`LeadSquaredModel.add_tenant`). Trainers pick scenarios by name; tests load one org per scenario.
"""

from __future__ import annotations

from dataclasses import dataclass

# The connector's real namespace and 04t id are not public (they are runbook parameters); the sandbox
# uses these obviously fake values, valid in form only. Never use them against a real org.
FAKE_NAMESPACE = "lsqfake"
FAKE_PACKAGE_NAME = "LeadSquared Connector"
FAKE_PACKAGE_ID = "033FAKE0LSQ0001"  # SubscriberPackage (033) id, 15-char body
FAKE_PACKAGE_VERSION_ID = "04tFAKE0LSQ0001"  # SubscriberPackageVersion (04t) id, 15-char body
FAKE_PACKAGE_VERSION = (4, 2, 0, 1)  # major, minor, patch, build
REMOTE_SITE_NAME = "LSQConnectorURL"
WRONG_REMOTE_SITE_URL = "https://lsqfake-old.na99.visual.force.com"


@dataclass(frozen=True)
class ScenarioSpec:
    """What a practice org looks like when it is loaded. Defaults describe a ready org."""

    name: str
    summary: str
    edition: str = "Enterprise Edition"
    api_enabled: bool = True  # False: Professional Edition without the API add-on
    is_sandbox: bool = False  # a Salesforce sandbox org (test.salesforce.com, --<sandbox>.sandbox.my domains)
    user_is_admin: bool = True  # Modify All Data, Customize Application, Download AppExchange Packages
    package_installed: bool = True
    install_outcome: str = "SUCCESS"  # final Status of a PackageInstallRequest: SUCCESS or ERROR
    lightning_preferred: bool = False
    remote_site: str = "ok"  # ok | missing | wrong_url | inactive
    api_requests_exhausted: bool = False  # daily API requests used up: REST answers REQUEST_LIMIT_EXCEEDED
    lsq_keys_valid: bool = True  # False: the keys belong to a deactivated LeadSquared user
    lsq_role: str = "Administrator"
    lsq_region: str = "sg"  # where the LeadSquared tenant lives (a key of lsq_regions.REGIONS)
    lsq_configured_region: str | None = None  # region the org file names, when it differs (wrong region)
    lsq_throttled_calls: int = 0  # this many first calls answer MXAPIRateLimitExceededException
    flaky_every: int = 0  # every Nth request to this org's APIs fails with a 503 or a dropped connection


SCENARIOS: dict[str, ScenarioSpec] = {
    spec.name: spec
    for spec in (
        ScenarioSpec(
            "ready", "Every step done: the connector is installed, Classic, remote site set, keys valid."
        ),
        ScenarioSpec(
            "fresh",
            "Nothing done yet: no package, Lightning preferred, no remote site.",
            package_installed=False,
            lightning_preferred=True,
            remote_site="missing",
        ),
        ScenarioSpec(
            "lightning",
            "Connector installed but the admin works in Lightning Experience.",
            lightning_preferred=True,
        ),
        ScenarioSpec(
            "no-remote-site",
            "Connector installed; the LSQConnectorURL remote site is missing.",
            remote_site="missing",
        ),
        ScenarioSpec(
            "wrong-remote-site",
            "The LSQConnectorURL remote site points at an old Visualforce host.",
            remote_site="wrong_url",
        ),
        ScenarioSpec(
            "no-api-access",
            "Professional Edition without API access: the connector works but cannot map custom objects.",
            edition="Professional Edition",
            api_enabled=False,
        ),
        ScenarioSpec(
            "not-admin",
            "The runbook runs as a standard user in Salesforce and a Sales User in LeadSquared.",
            user_is_admin=False,
            lsq_role="Sales User",
        ),
        ScenarioSpec(
            "bad-lsq-keys", "The LeadSquared keys belong to a deactivated user.", lsq_keys_valid=False
        ),
        ScenarioSpec(
            "wrong-lsq-region",
            "The LeadSquared account lives in India (in21) but the org file names the Singapore host.",
            lsq_region="in21",
            lsq_configured_region="sg",
        ),
        ScenarioSpec(
            "rate-limited",
            "Salesforce's daily API requests are used up and LeadSquared throttles the first calls.",
            api_requests_exhausted=True,
            lsq_throttled_calls=2,
        ),
        ScenarioSpec(
            "flaky",
            "Everything is done, but every third call fails with a 503 or a dropped connection.",
            flaky_every=3,
        ),
        ScenarioSpec(
            "sandbox-org",
            "A Salesforce sandbox (test.salesforce.com) with everything done.",
            is_sandbox=True,
        ),
    )
}


def get(name: str) -> ScenarioSpec:
    """The scenario of that name, or a ValueError listing the names there are."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; choose one of: {', '.join(SCENARIOS)}") from None
