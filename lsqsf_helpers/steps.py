"""The documented steps, one small class each: `check` reads, `fix` (three steps only) changes.

Step ids are a contract (ARCHITECTURE.md). A check returns a StepResult and never changes the org;
a fix returns the changes it made and is idempotent, so the runner can re-check after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from lsqsf_helpers import sfid
from lsqsf_helpers.context import RunContext
from lsqsf_helpers.errors import Failure, SalesforceFailure, UsageError
from lsqsf_helpers.leadsquared import KEYS_PAGE, region_hint
from lsqsf_helpers.origins import derive_origin, normalise_origin, same_org
from lsqsf_helpers.results import Change, Status, StepResult
from lsqsf_helpers.salesforce import InstalledPackage

LSQ_KEYS_HELP = "https://help.leadsquared.com/how-do-i-obtain-api-access-keys-in-leadsquared/"
MAPPING_ARTICLE = (
    "https://help.leadsquared.com/salesforce-to-leadsquared-integration-mapping-and-configuration-2/"
)
INSTALL_HELP = "https://help.salesforce.com/s/articleView?id=sf.distribution_installing_packages.htm"
ADMIN_HELP = "https://help.salesforce.com/s/articleView?id=sf.admin_userperms.htm"
NO_API = "API_DISABLED_FOR_ORG"
LET_LSQSF_FIX = "let lsqsf fix it in apply mode (--apply; in the notebook, apply = True or the Fix button)"
PERMISSION_LABELS = {
    "PermissionsModifyAllData": "Modify All Data",
    "PermissionsCustomizeApplication": "Customize Application",
    "PermissionsInstallPackaging": "Download AppExchange Packages",
    "PermissionsApiEnabled": "API Enabled",
    "PermissionsViewSetup": "View Setup and Configuration",
}
ANY_RUN = frozenset({Status.OK, Status.ACTION_NEEDED, Status.MANUAL})
DONE = frozenset({Status.OK, Status.MANUAL})


class Step:
    id: ClassVar[str]
    title: ClassVar[str]
    requires: ClassVar[dict[str, frozenset[Status]]] = {}
    can_fix: ClassVar[bool] = False
    # What the fix does, for the confirmation the admin answers first; {names} are ConnectorParams fields.
    fix_summary: ClassVar[str] = ""

    def check(self, ctx: RunContext) -> StepResult:
        raise NotImplementedError

    def fix(self, ctx: RunContext, found: StepResult) -> tuple[Change, ...]:
        raise NotImplementedError(f"{self.id} has no automatic fix")

    def result(
        self,
        status: Status,
        message: str,
        remedy: str = "",
        evidence: Mapping[str, object] | None = None,
        links: tuple[tuple[str, str], ...] = (),
    ) -> StepResult:
        return StepResult(self.id, status, self.title, message, remedy, dict(evidence or {}), (), links)


def sentence(text: str) -> str:
    """First letter upper case, a full stop at the end; the rest (names, hosts) untouched."""
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def setup_link(ctx: RunContext, label: str, path: str) -> tuple[str, str]:
    host = ctx.instance_host or "login.salesforce.com"
    return (label, f"https://{host}{path}")


def no_api_result(step: Step, ctx: RunContext, todo: str, links: tuple[tuple[str, str], ...]) -> StepResult:
    return step.result(
        Status.MANUAL,
        f"Salesforce API access is off in this org, so this cannot be checked: {todo}",
        links=links,
        evidence={"salesforce_api": False},
    )


class Prerequisites(Step):
    id = "prerequisites"
    title = "Accounts and admin rights on both sides"

    def check(self, ctx: RunContext) -> StepResult:
        evidence: dict[str, object] = {}
        links = (("Salesforce user permissions", ADMIN_HELP),)
        sf = ctx.salesforce()  # a failed login is reported by the runner as `failed`
        evidence["salesforce_instance"] = sf.instance_host
        try:
            user = ctx.running_user()
        except SalesforceFailure as exc:
            if exc.code != NO_API:
                raise
            ctx.salesforce_api = False
            return self.result(
                Status.MANUAL,
                "Logged in to Salesforce, but this org has no API access, so admin rights cannot be read: "
                "make sure you are a System Administrator.",
                evidence={**evidence, "salesforce_api": False},
                links=links,
            )
        evidence.update(username=user.username, salesforce_permissions=user.permissions)
        problems = []
        if not user.is_admin:
            missing = ", ".join(PERMISSION_LABELS.get(p, p) for p in user.missing_admin_permissions)
            problems.append(f"the Salesforce user {user.username} lacks {missing}")
        try:
            owner = ctx.key_owner()
            evidence.update(leadsquared_role=owner.role)
            if not owner.is_admin:
                problems.append(f"the LeadSquared keys belong to {owner.email or owner.name}, a {owner.role}")
        except Failure:
            evidence.update(leadsquared_role="unknown (see leadsquared_keys)")
        if problems:
            return self.result(
                Status.ACTION_NEEDED,
                sentence("; ".join(problems)),
                remedy="run the runbook as a Salesforce System Administrator, and use API keys of a LeadSquared "
                "Administrator",
                evidence=evidence,
                links=links,
            )
        return self.result(Status.OK, f"Logged in as {user.username}, an administrator.", evidence=evidence)


class InstallConnector(Step):
    id = "install_connector"
    title = "Install the connector (All Users, third-party access approved)"
    requires = {"prerequisites": DONE}
    can_fix = True
    fix_summary = "install {package_name} (package version {package_version_id}) for All Users"

    def install_link(self, ctx: RunContext) -> tuple[str, str] | None:
        version_id = ctx.connector.package_version_id
        if not version_id:
            return None
        host = "test.salesforce.com" if ctx.is_sandbox_login else "login.salesforce.com"
        return ("Install link", f"https://{host}/packaging/installPackage.apexp?p0={version_id}")

    def links(self, ctx: RunContext) -> tuple[tuple[str, str], ...]:
        link = self.install_link(ctx)
        return ((link,) if link else ()) + (("How package installs work", INSTALL_HELP),)

    def find(self, ctx: RunContext, packages: list[InstalledPackage]) -> InstalledPackage | None:
        target = ctx.connector
        wanted_id = sfid.to18(target.package_version_id) if target.package_version_id else None
        for pkg in packages:
            if (
                wanted_id
                and pkg.version_id
                and sfid.is_valid(pkg.version_id)
                and sfid.to18(pkg.version_id) == wanted_id
            ):
                return pkg
        for pkg in packages:
            if target.namespace and (pkg.namespace or "").lower() == target.namespace.lower():
                return pkg
            if pkg.name == target.package_name:
                return pkg
        return None

    def check(self, ctx: RunContext) -> StepResult:
        if not ctx.salesforce_api:
            return no_api_result(
                self, ctx, "check Setup > Installed Packages for LeadSquared Connector.", self.links(ctx)
            )
        packages = ctx.installed_packages()
        found = self.find(ctx, packages)
        if found is None:
            how = "install it for All Users and approve third-party access"
            return self.result(
                Status.ACTION_NEEDED,
                f"{ctx.connector.package_name} is not installed.",
                remedy=f"{how}: use the install link below, or {LET_LSQSF_FIX}"
                if ctx.connector.package_version_id
                else f"{how}; ask LeadSquared support for the install link and set connector.package_version_id "
                "to its 04t id so lsqsf can install it",
                evidence={"installed_packages": len(packages)},
                links=self.links(ctx),
            )
        return self.result(
            Status.OK,
            f"{found.name} {found.version} is installed.",
            evidence={"namespace": found.namespace, "version": found.version, "version_id": found.version_id},
        )

    def fix(self, ctx: RunContext, found: StepResult) -> tuple[Change, ...]:
        version_id = ctx.connector.package_version_id
        if not version_id:
            raise UsageError(
                "is needed to install the connector",
                field="connector.package_version_id",
                remedy="ask LeadSquared support for the install link; its p0= value is the 04t id",
            )
        outcome = ctx.salesforce().install_package(version_id)
        if outcome.status != "SUCCESS":
            raise SalesforceFailure(
                f"the install ended {outcome.status}: {'; '.join(outcome.errors) or 'no details'}",
                code="INSTALL_" + outcome.status,
                remedy="install from the link by hand to see Salesforce's full message",
            )
        return (
            Change(
                f"package {ctx.connector.package_name}",
                None,
                {"version_id": version_id, "request": outcome.request_id},
            ),
        )


class ClassicView(Step):
    id = "classic_view"
    title = "Use Salesforce Classic, not Lightning Experience"
    requires = {"prerequisites": DONE}
    can_fix = True
    fix_summary = "switch the logged-in user from Lightning Experience to Salesforce Classic"

    def links(self, ctx: RunContext) -> tuple[tuple[str, str], ...]:
        return (setup_link(ctx, "Switch to Salesforce Classic", "/ltng/switcher?destination=classic"),)

    def check(self, ctx: RunContext) -> StepResult:
        if not ctx.salesforce_api:
            return no_api_result(
                self, ctx, "switch to Salesforce Classic before configuring the connector.", self.links(ctx)
            )
        user = ctx.running_user()
        evidence = {"UserPreferencesLightningExperiencePreferred": user.lightning_preferred}
        if user.lightning_preferred:
            return self.result(
                Status.ACTION_NEEDED,
                f"{user.username} uses Lightning Experience; the connector's pages need Salesforce Classic.",
                remedy=f"switch to Salesforce Classic with the link below, or {LET_LSQSF_FIX}",
                evidence=evidence,
                links=self.links(ctx),
            )
        return self.result(Status.OK, f"{user.username} uses Salesforce Classic.", evidence=evidence)

    def fix(self, ctx: RunContext, found: StepResult) -> tuple[Change, ...]:
        user = ctx.running_user()
        ctx.salesforce().set_lightning_preferred(user.id, False)
        return (Change(f"User {user.username}: UserPreferencesLightningExperiencePreferred", True, False),)


class RemoteSiteStep(Step):
    id = "remote_site"
    title = "Remote site for the connector page"
    requires = {"prerequisites": DONE}
    can_fix = True
    fix_summary = "create or update the Remote Site Setting {remote_site_name} for the connector page's address and make it active"

    def links(self, ctx: RunContext) -> tuple[tuple[str, str], ...]:
        return (setup_link(ctx, "Remote Site Settings", "/0rp?setupid=SecurityRemoteProxy"),)

    def expected_origin(self, ctx: RunContext) -> str:
        if ctx.connector.page_url:
            origin = normalise_origin(ctx.connector.page_url)
            if ctx.instance_host and not same_org(origin, ctx.instance_host):
                raise UsageError(
                    f"is a page of another org: {origin} does not start with this org's My Domain "
                    f"({ctx.instance_host})",
                    field="connector.page_url",
                    remedy="open the Configure page of the connector in this org and copy its address",
                )
            return origin
        if not ctx.connector.namespace:
            raise UsageError(
                "or connector.page_url is needed to know the connector page's address",
                field="connector.namespace",
                remedy="set connector.namespace (the package's namespace prefix) or connector.page_url",
            )
        return derive_origin(ctx.instance_host, ctx.connector.namespace)

    def check(self, ctx: RunContext) -> StepResult:
        name = ctx.connector.remote_site_name
        if not ctx.salesforce_api:
            return no_api_result(
                self,
                ctx,
                f"add remote site {name} with the connector page's address up to '.com'.",
                self.links(ctx),
            )
        expected = self.expected_origin(ctx)
        site = ctx.remote_site()
        evidence: dict[str, object] = {"name": name, "expected_url": expected}
        remedy = f"add remote site {name} with URL {expected}, Active ticked (link below), or {LET_LSQSF_FIX}"
        if site is None:
            return self.result(
                Status.ACTION_NEEDED, f"Remote site {name} is missing.", remedy, evidence, self.links(ctx)
            )
        evidence.update(url=site.url, active=site.is_active)
        if site.url.rstrip("/").lower() != expected.lower():
            return self.result(
                Status.ACTION_NEEDED,
                f"Remote site {name} points at {site.url}, not at the connector page {expected}.",
                remedy,
                evidence,
                self.links(ctx),
            )
        if not site.is_active:
            return self.result(
                Status.ACTION_NEEDED, f"Remote site {name} is not active.", remedy, evidence, self.links(ctx)
            )
        return self.result(Status.OK, f"Remote site {name} allows {expected}.", evidence=evidence)

    def fix(self, ctx: RunContext, found: StepResult) -> tuple[Change, ...]:
        name = ctx.connector.remote_site_name
        expected = self.expected_origin(ctx)
        before = (
            {"url": found.evidence.get("url"), "active": found.evidence.get("active")}
            if "url" in found.evidence
            else None
        )
        ctx.salesforce().upsert_remote_site(name, expected, "LeadSquared Connector page (set by lsqsf)")
        return (Change(f"RemoteSiteSetting {name}", before, {"url": expected, "active": True}),)


class LeadSquaredKeysStep(Step):
    id = "leadsquared_keys"
    title = "LeadSquared access key and secret key"

    def check(self, ctx: RunContext) -> StepResult:
        links = (("Where LeadSquared keys live", LSQ_KEYS_HELP),)
        try:
            owner = ctx.key_owner()
        except Failure as exc:
            if getattr(exc, "status", 0) == 401:
                return self.result(
                    Status.ACTION_NEEDED,
                    "LeadSquared does not accept these keys (unknown, regenerated, or their user is deactivated).",
                    remedy=exc.remedy,
                    evidence={"host": ctx.lsq_configured_host},
                    links=links,
                )
            raise
        evidence = {
            "key_owner": owner.email or owner.name,
            "role": owner.role,
            "configured_host": ctx.lsq_configured_host,
            "tenant_host": owner.tenant_host,
        }
        if owner.tenant_host and owner.tenant_host != ctx.lsq_configured_host:
            return self.result(
                Status.ACTION_NEEDED,
                f"The keys belong to an account on {owner.tenant_host}, but the org file names "
                f"{ctx.lsq_configured_host}.",
                remedy=f"set {region_hint(owner.tenant_host)} (the host shown at {KEYS_PAGE})",
                evidence=evidence,
                links=links,
            )
        return self.result(
            Status.OK,
            f"The keys work; they belong to {owner.email or owner.name} ({owner.role}).",
            evidence=evidence,
        )


class ConnectorAuth(Step):
    id = "connector_auth"
    title = "Authenticate LeadSquared in the connector"
    requires = {
        "install_connector": DONE,
        "classic_view": DONE,
        "remote_site": DONE,
        "leadsquared_keys": frozenset({Status.OK}),
    }

    def check(self, ctx: RunContext) -> StepResult:
        links: tuple[tuple[str, str], ...] = (
            setup_link(
                ctx,
                "Installed Packages (then Configure on LeadSquared Connector)",
                "/0A3?setupid=ImportedPackage",
            ),
        )
        if ctx.connector.page_url:
            links += (("Connector Configure page", ctx.connector.page_url),)
        if ctx.connector.authenticated:
            return self.result(
                Status.OK,
                "The admin confirmed the connector was authenticated (connector_authenticated: true).",
                evidence={"confirmed_by": "parameter"},
            )
        where = ""
        if ctx.connector.access_key_ref:
            where = f" (the values behind {ctx.connector.access_key_ref} and {ctx.connector.secret_key_ref})"
        return self.result(
            Status.MANUAL,
            "Salesforce offers no API to read this: open the connector's Configure page, choose the "
            f"Authentication tab, paste the LeadSquared API Access Key and API Secret Key{where}, then click "
            "Authenticate and Save. Mapping and Configuration tabs appear when it worked.",
            remedy="when done, set connector_authenticated: true so later runs show this step as ok",
            links=links,
        )


class ApiAccess(Step):
    id = "api_access"
    title = "Salesforce API access (needed to map custom objects)"
    requires = {"prerequisites": ANY_RUN}

    def check(self, ctx: RunContext) -> StepResult:
        if not ctx.salesforce_api:
            return self.result(
                Status.ACTION_NEEDED,
                "This org has no Salesforce API access: the connector cannot map custom objects.",
                remedy="ask Salesforce to enable API access (for Professional Edition, the API add-on), or do "
                "the connector's extra step for orgs without API access from LeadSquared's article",
                evidence={"salesforce_api": False},
            )
        org = ctx.organization()
        user = ctx.running_user()
        evidence = {
            "edition": org.edition,
            "is_sandbox": org.is_sandbox,
            "api_enabled_user": user.permissions.get("PermissionsApiEnabled"),
        }
        if not user.permissions.get("PermissionsApiEnabled"):
            return self.result(
                Status.ACTION_NEEDED,
                f"{user.username} lacks the API Enabled permission.",
                remedy="grant API Enabled through the user's profile or a permission set",
                evidence=evidence,
            )
        return self.result(Status.OK, f"{org.edition}: API access is on.", evidence=evidence)


class NextSteps(Step):
    id = "next_steps"
    title = "Next: configuration and mapping"

    def check(self, ctx: RunContext) -> StepResult:
        pending = [sid for sid, res in ctx.results.items() if res.status not in DONE]
        if pending:
            return self.result(Status.SKIPPED, f"Finish these steps first: {', '.join(pending)}.")
        return self.result(
            Status.MANUAL,
            "Installation and authentication are done: map LeadSquared and Salesforce entities and fields next.",
            links=(("Configuration and Mapping article", MAPPING_ARTICLE),),
        )


STEPS: tuple[Step, ...] = (
    Prerequisites(),
    InstallConnector(),
    ClassicView(),
    RemoteSiteStep(),
    LeadSquaredKeysStep(),
    ConnectorAuth(),
    ApiAccess(),
    NextSteps(),
)
STEP_IDS: tuple[str, ...] = tuple(step.id for step in STEPS)
