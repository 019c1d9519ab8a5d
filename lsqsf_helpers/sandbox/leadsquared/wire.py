"""LeadSquared's wire format: parse a request, call the model, answer with LeadSquared's JSON.

Error bodies have the one documented shape:
`{"Status": "Error", "ExceptionType": ..., "ExceptionMessage": ...}`.
Where LeadSquared's exact answer is not public, docs/sandbox-leadsquared.md says what we chose.
Paths are matched without regard to case (LeadSquared's API is a WCF service, whose URI templates are
case-insensitive).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lsqsf_helpers.lsq_regions import Region, region_for_host
from lsqsf_helpers.sandbox.leadsquared.models import (
    RATE_LIMIT_MESSAGE,
    RATE_LIMIT_TYPE,
    LeadSquaredModel,
    LsqApiError,
    Tenant,
    User,
    request_keys,
)
from lsqsf_helpers.sandbox.messages import Request, Response
from lsqsf_helpers.sandbox.routing import Handler, Route, route

VENDOR = "leadsquared"
API = "lsq"  # call-log label of every LeadSquared route

INTERNAL_ERROR_TYPE = "MXInternalServerErrorException"
UNAVAILABLE_TYPE = "MXServiceUnavailableException"


def error(status: int, exception_type: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """LeadSquared's documented error body."""
    return Response.json(
        status,
        {"Status": "Error", "ExceptionType": exception_type, "ExceptionMessage": message},
        headers,
    )


def _unknown_host(request: Request) -> Response:
    # A real client could not even resolve such a host; the sandbox says so plainly.
    return Response.text(
        421,
        f"Misdirected request: {request.host!r} is not a LeadSquared API host "
        "(see lsqsf_helpers.lsq_regions.REGIONS).\n",
    )


def _lsq(handler: Callable[[LeadSquaredModel, Request], Response]) -> Handler:
    """A route handler: refuses undocumented hosts and turns model refusals into error bodies."""

    def handle(model: Any, request: Request, match: re.Match[str]) -> Response:
        if region_for_host(request.host) is None:
            return _unknown_host(request)
        try:
            return handler(model, request)
        except LsqApiError as exc:
            return error(exc.status, exc.exception_type, exc.message)

    return handle


def _service_urls(region: Region) -> dict[str, str]:
    # Only `api` is known from public code (the tenant's host, no scheme); `app` and `tracking` exist
    # in public code too but their values are not public, so these follow the api host's pattern.
    suffix = region.host.removeprefix("api").removesuffix(".leadsquared.com")
    return {
        "api": region.host,
        "app": f"app{suffix}.leadsquared.com",
        "tracking": f"tracking{suffix}.leadsquared.com",
    }


def user_body(tenant: Tenant, user: User) -> dict[str, Any]:
    """The UserByAccessKey.Get body: the fields of the documented sample, in its order."""
    return {
        "Class": None,
        "Group": None,
        "SubRegionId": None,
        "Id": user.id,
        "Name": user.name,
        "PassPhrase": user.email,
        "Role": user.role,
        "EmailAddress": None,  # null in the documented sample; the email is in PassPhrase
        "SessionId": None,
        "TimeZone": tenant.time_zone,
        "TokenId": None,
        "Type": "ApplicationUser",
        "OrgDisplayName": tenant.display_name,
        "OrgId": tenant.org_id,
        "OrgShortCode": tenant.short_code,
        "OrgUniqueName": tenant.unique_name,
        "DefaultCountryCode": tenant.country_code,
        "Website": None,
        "Street1": None,
        "Street2": None,
        "City": None,
        "State": None,
        "Country": None,
        "Phone": None,
        "Fax": None,
        "Zip": None,
        "AssociatedPhoneNumbers": None,
        "RestrictedFeatures": None,
        "CustomerType": None,
        "Plan": None,
        "UserType": "Regular",
        "MobileServiceURLs": {"ReportsURL": None, "FileUploadURL": None, "MobileNotificationURL": None},
        "LSQCommonServiceURLs": _service_urls(tenant.region),
    }


def users_body(users: tuple[User, ...]) -> list[dict[str, Any]]:
    """The Users.Get body: a JSON array of users."""
    return [
        {
            "ID": user.id,
            "FirstName": user.first_name,
            "LastName": user.last_name,
            "EmailAddress": user.email,
            "Role": user.role,
            "StatusCode": user.status_code,
            "MemberOfGroups": [],
            "Tag": "",
            "IsPhoneCallAgent": False,
        }
        for user in users
    ]


def _user_by_access_key(model: LeadSquaredModel, request: Request) -> Response:
    tenant, user = model.user_by_access_key(*request_keys(request))
    return Response.json(200, user_body(tenant, user))


def _users_get(model: LeadSquaredModel, request: Request) -> Response:
    access_key, secret_key = request_keys(request)
    return Response.json(200, users_body(model.users(access_key, secret_key, request.host)))


ROUTES: tuple[Route, ...] = (
    route(VENDOR, "GET", r"(?i)/v2/Authentication\.svc/UserByAccessKey\.Get", _lsq(_user_by_access_key), API),
    route(VENDOR, "GET", r"(?i)/v2/UserManagement\.svc/Users\.Get", _lsq(_users_get), API),
)


# ----- answers the app asks for by name -------------------------------------------------------
def fault_response(kind: str, request: Request | None = None) -> Response:
    """An injected fault as LeadSquared (or the load balancer in front of it) would answer it."""
    if kind == "429":
        return error(429, RATE_LIMIT_TYPE, RATE_LIMIT_MESSAGE)
    if kind == "500":
        return internal_error()
    if kind == "503":
        return error(
            503, UNAVAILABLE_TYPE, "The service is temporarily unavailable. Try again in a few seconds."
        )
    if kind in ("502", "504"):
        title = "502 Bad Gateway" if kind == "502" else "504 Gateway Time-out"
        page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>\n"
        return Response(int(kind), page.encode(), "text/html")
    raise ValueError(f"no LeadSquared answer for fault kind {kind!r}")


def not_found(request: Request) -> Response:
    """No route matched: 421 for an undocumented host, 405 for a known path with another method, else 404."""
    if region_for_host(request.host) is None:
        return _unknown_host(request)
    allowed = sorted({entry.method for entry in ROUTES if entry.pattern.match(request.path)})
    if allowed:
        return error(
            405,
            "MXMethodNotAllowedException",
            f"{request.method} is not allowed on {request.path}; use {', '.join(allowed)}.",
            {"Allow": ", ".join(allowed)},
        )
    return error(
        404,
        "MXEndpointNotFoundException",
        f"No API at {request.method} {request.path}: check the API signature.",
    )


def too_large(request: Request | None = None) -> Response:
    return error(413, "MXRequestTooLargeException", "The request body is too large.")


def internal_error(request: Request | None = None) -> Response:
    return error(500, INTERNAL_ERROR_TYPE, "An unexpected error occurred while processing the request.")
