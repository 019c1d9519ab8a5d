"""The connector page's origin: derived from My Domain + namespace, or taken from the admin and checked.

A remote site is a host Salesforce lets Apex call, so a wrong one is a security hole: only hosts on
Salesforce's Visualforce domains are accepted, compared label by label, never by substring.
Host forms: reference/salesforce-api.md §3 (DomainCreator docs; enhanced, sandbox, partitioned and
legacy forms).
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

from lsqsf_helpers.errors import ValidationError

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# Whole-host patterns; anything else is refused.
_VF_HOSTS = (
    re.compile(rf"^{_LABEL}\.vf\.force\.com$"),  # enhanced: mydomain--ns.vf.force.com
    re.compile(rf"^{_LABEL}\.(?:sandbox|develop|scratch|patch|demo|trailblaze)\.vf\.force\.com$"),
    re.compile(rf"^{_LABEL}\.{_LABEL}\.visual\.force\.com$"),  # legacy: mydomain--ns.cs70.visual.force.com
    re.compile(rf"^{_LABEL}\.visualforce\.com$"),  # stabilised: mydomain--c.visualforce.com
)
_MY_DOMAIN = re.compile(
    rf"^(?P<name>{_LABEL}?)(?:--(?P<sandbox>{_LABEL}))?\.(?:(?P<kind>sandbox|develop|scratch)\.)?my\.salesforce\.com$"
)


def namespace_label(namespace: str) -> str:
    """A namespace as it appears in a host name: lower case, underscores as hyphens."""
    return namespace.lower().replace("_", "-")


def derive_origin(instance_host: str, namespace: str) -> str:
    """The enhanced-domains origin of the package's pages for an org's My Domain host.

    Production `https://<mydomain>--<ns>.vf.force.com`; sandbox
    `https://<mydomain>--<sandbox>--<ns>.sandbox.vf.force.com`; developer/scratch partitions likewise.
    """
    match = _MY_DOMAIN.match(instance_host.lower())
    if not match or not match.group("name"):
        raise ValidationError(
            f"cannot derive the connector page origin from {instance_host!r}: it is not a My Domain host",
            field="connector.page_url",
            remedy="open the connector's Configure page and give its address as connector.page_url",
        )
    ns = namespace_label(namespace)
    name, sandbox, kind = match.group("name"), match.group("sandbox"), match.group("kind")
    if sandbox:
        return f"https://{name}--{sandbox}--{ns}.{kind or 'sandbox'}.vf.force.com"
    if kind:
        return f"https://{name}--{ns}.{kind}.vf.force.com"
    return f"https://{name}--{ns}.vf.force.com"


def split_url(text: str, field: str) -> SplitResult:
    """`urlsplit`, with its ValueError for a malformed bracketed host ("https://[", "host]") told as a
    ValidationError that names the field, like every other bad URL."""
    try:
        return urlsplit(text)
    except ValueError:
        raise ValidationError(
            f"{text!r} is not a valid URL (unbalanced [ ] around the host)", field=field
        ) from None


def normalise_origin(url: str, *, field: str = "connector.page_url") -> str:
    """`https://host` of a connector page address, refusing anything outside the Visualforce domains."""
    text = url.strip()
    if not text.isascii():
        raise ValidationError("must be plain ASCII (look-alike characters are refused)", field=field)
    parts = split_url(text, field)
    if parts.scheme.lower() != "https":
        raise ValidationError("must start with https://", field=field)
    if "@" in parts.netloc:
        raise ValidationError("must not contain a user name or '@'", field=field)
    try:
        port = parts.port
    except ValueError:
        raise ValidationError("has an invalid port", field=field) from None
    if port not in (None, 443):
        raise ValidationError("must not name a port", field=field)
    host = (parts.hostname or "").lower()
    if any(label.startswith("xn--") for label in host.split(".")):
        # My Domain names and namespace prefixes are plain ASCII: an IDNA label here is a look-alike.
        raise ValidationError(
            f"host {host!r} has an internationalised (xn--) label; Visualforce hosts have none", field=field
        )
    if not any(pattern.match(host) for pattern in _VF_HOSTS):
        raise ValidationError(
            f"host {host!r} is not on Salesforce's Visualforce domains (*.vf.force.com, *.visual.force.com, "
            "*.visualforce.com)",
            field=field,
            remedy="copy the address of the connector's Configure page, up to '.com'",
        )
    return f"https://{host}"


def same_org(origin: str, instance_host: str) -> bool:
    """Whether a Visualforce origin can be this org's: its host starts with the org's My Domain name.

    Only a My Domain instance host can tell; for any other (a legacy instance such as na1) say yes.
    """
    match = _MY_DOMAIN.match(instance_host.lower())
    if not match or not match.group("name"):
        return True
    prefix = match.group("name") + (f"--{match.group('sandbox')}" if match.group("sandbox") else "") + "--"
    host = urlsplit(origin).hostname or ""
    return host.lower().startswith(prefix)
