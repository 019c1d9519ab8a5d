"""LeadSquared's regional API hosts: a vendor fact shared by the helpers and the sandbox.

Source: https://apidocs.leadsquared.com/user-authentication/ (host table; in22, ir31 and ca12 on its
newer version). `me61` appears only in secondary sources, so it is marked unofficial.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    host: str
    official: bool = True


REGIONS: dict[str, Region] = {
    r.code: r
    for r in (
        Region("sg", "Singapore (default)", "api.leadsquared.com"),
        Region("us11", "United States", "api-us11.leadsquared.com"),
        Region("in21", "India (Mumbai)", "api-in21.leadsquared.com"),
        Region("in22", "India (Hyderabad)", "api-in22.leadsquared.com"),
        Region("ir31", "Ireland", "api-ir31.leadsquared.com"),
        Region("ca12", "Canada", "api-ca12.leadsquared.com"),
        Region("me61", "Middle East (unofficial)", "api-me61.leadsquared.com", official=False),
    )
}

HOSTS: dict[str, Region] = {r.host: r for r in REGIONS.values()}

# Any host of the documented shape, used to tell LeadSquared traffic from other traffic.
API_HOST_PATTERN = re.compile(r"^api(-[a-z]{2}\d{2})?\.leadsquared\.com$")


def region_for_host(host: str) -> Region | None:
    """The region a host belongs to, or None for a host that is not a documented API host."""
    return HOSTS.get(host.lower().rstrip("."))
