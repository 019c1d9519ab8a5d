"""From validated parameters to a ready RunContext: resolve secrets just in time, open one session.

In sandbox mode an org that names `sandbox_scenario` and gives no credentials borrows that practice
org's fake credentials, login host and LeadSquared host from the sandbox's control API; they are
registered with the redactor like any secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from lsqsf_helpers.context import ConnectorTarget, RunContext
from lsqsf_helpers.errors import UsageError
from lsqsf_helpers.http import new_session
from lsqsf_helpers.leadsquared import LeadSquaredClient, LeadSquaredKeys
from lsqsf_helpers.params import OrgParams, SalesforceParams
from lsqsf_helpers.redact import REDACTOR, Redactor
from lsqsf_helpers.salesforce import API_VERSION, SalesforceClient, SalesforceLogin
from lsqsf_helpers.secrets import SecretRef, resolve

SECRET_FIELDS = ("password", "security_token", "access_token", "consumer_secret", "private_key")


# Values typed into the notebook form's Password fields for a live session, by dotted field; they
# stand in for a `prompt` reference and are registered with the redactor like any resolved secret.
TypedSecrets = Mapping[str, str]


def _secret(
    ref: SecretRef | None,
    field: str,
    interactive: bool,
    redactor: Redactor,
    typed: TypedSecrets | None = None,
) -> str:
    if typed and typed.get(field):
        redactor.register(typed[field], label=f"{field} typed in the form")
        return typed[field]
    return resolve(ref, field, interactive=interactive, redactor=redactor) if ref is not None else ""


def _domain_from_host(host: str) -> str:
    """simple-salesforce's `domain` for a login host: login, test, or the My Domain prefix."""
    return host.removesuffix(".salesforce.com")


def salesforce_login(
    sf: SalesforceParams,
    *,
    borrowed: dict[str, Any] | None,
    interactive: bool,
    redactor: Redactor = REDACTOR,
    typed: TypedSecrets | None = None,
) -> SalesforceLogin:
    """The login for an org: its own references, or a sandbox practice org's fake credentials."""
    version = sf.api_version or API_VERSION
    has_own = any(getattr(sf, name) is not None for name in SECRET_FIELDS)
    if borrowed is not None and not has_own:
        for name in ("password", "security_token", "consumer_secret", "jwt_private_key"):
            redactor.register(str(borrowed[name]), label=f"sandbox {name}")
        # A practice org defines its own login host (sandbox orgs log in at test.salesforce.com).
        domain = sf.login_domain if sf.login_given else _domain_from_host(str(borrowed["login_host"]))
        if sf.auth == "client_credentials":
            domain = _domain_from_host(str(borrowed["my_domain"]))
        if sf.auth == "access_token":
            raise UsageError(
                "a sandbox practice org lends password, jwt or client_credentials logins, not an access token",
                field="salesforce.auth",
                remedy="use auth: password (the default), or give access_token and instance_url yourself",
            )
        return SalesforceLogin(
            auth=sf.auth,
            domain=domain,
            username=sf.username or str(borrowed["username"]),
            consumer_key=sf.consumer_key
            or str(borrowed["jwt_consumer_key" if sf.auth == "jwt" else "consumer_key"]),
            api_version=version,
            password=str(borrowed["password"]),
            security_token=str(borrowed["security_token"]),
            consumer_secret=str(borrowed["consumer_secret"]),
            private_key=str(borrowed["jwt_private_key"]),
        )
    return SalesforceLogin(
        auth=sf.auth,
        domain=sf.login_domain,
        username=sf.username or "",
        consumer_key=sf.consumer_key or "",
        instance_url=sf.instance_url or "",
        api_version=version,
        password=_secret(sf.password, "salesforce.password", interactive, redactor, typed),
        security_token=_secret(sf.security_token, "salesforce.security_token", interactive, redactor, typed),
        access_token=_secret(sf.access_token, "salesforce.access_token", interactive, redactor, typed),
        consumer_secret=_secret(
            sf.consumer_secret, "salesforce.consumer_secret", interactive, redactor, typed
        ),
        private_key=_secret(sf.private_key, "salesforce.private_key", interactive, redactor, typed),
    )


def build_context(
    org: OrgParams,
    *,
    apply: bool,
    session: requests.Session,
    borrowed: dict[str, Any] | None = None,
    interactive: bool = False,
    redactor: Redactor = REDACTOR,
    typed: TypedSecrets | None = None,
) -> RunContext:
    """Everything one org's run needs. Secrets are resolved here, before any step runs."""
    sf_borrowed = borrowed.get("salesforce") if borrowed else None
    lsq_borrowed = borrowed.get("leadsquared") if borrowed else None
    login = salesforce_login(
        org.salesforce, borrowed=sf_borrowed, interactive=interactive, redactor=redactor, typed=typed
    )

    lsq = org.leadsquared
    if lsq_borrowed is not None and lsq.access_key is None:
        access_key, secret_key = str(lsq_borrowed["access_key"]), str(lsq_borrowed["secret_key"])
        redactor.register(access_key, label="sandbox access_key")
        redactor.register(secret_key, label="sandbox secret_key")
        # unless the org file names one, the practice org's own (possibly wrong-on-purpose) host
        host = lsq.api_host if lsq.host_given else str(lsq_borrowed["configured_host"])
    else:
        access_key = _secret(lsq.access_key, "leadsquared.access_key", interactive, redactor, typed)
        secret_key = _secret(lsq.secret_key, "leadsquared.secret_key", interactive, redactor, typed)
        host = lsq.api_host
    keys = LeadSquaredKeys(host=host, access_key=access_key, secret_key=secret_key)

    conn = org.connector
    target = ConnectorTarget(
        package_version_id=conn.package_version_id,
        namespace=conn.namespace,
        package_name=conn.package_name,
        remote_site_name=conn.remote_site_name,
        page_url=conn.page_url,
        authenticated=conn.connector_authenticated,
        access_key_ref=str(lsq.access_key) if lsq.access_key is not None else "",
        secret_key_ref=str(lsq.secret_key) if lsq.secret_key is not None else "",
    )
    login_host = f"{login.domain}.salesforce.com"
    return RunContext(
        label=org.label,
        apply=apply,
        connector=target,
        lsq_configured_host=host,
        open_salesforce=lambda: SalesforceClient.connect(login, session),
        open_leadsquared=lambda: LeadSquaredClient(keys, session),
        login_hint=login_host,
        is_sandbox_login=login.domain == "test" or ".sandbox.my" in login.domain,
    )


__all__ = ["build_context", "new_session", "salesforce_login"]
