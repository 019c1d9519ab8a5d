"""Salesforce on the wire: parse each request, call `SalesforceModel`, answer like Salesforce.

Surfaces: SOAP partner login (`/services/Soap/u/`), OAuth token and userinfo (`/services/oauth2/`),
REST (`/services/data/vXX.X/…`: query, sobjects, limits, chatter/users/me), Tooling
(`…/tooling/query`, `…/tooling/sobjects`) and the Metadata API over SOAP (`/services/Soap/m/`).
REST errors are JSON lists of `{"message","errorCode"}`; SOAP errors are `soapenv:Fault`s with HTTP
500. No handler lets an exception escape with a traceback: the app's `internal_error` is the last
resort. See docs/sandbox-salesforce.md for what is emulated and how it differs from Salesforce.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Callable
from functools import partial
from typing import Any
from xml.etree import ElementTree as ET

from lsqsf_helpers.sandbox.messages import Request, Response
from lsqsf_helpers.sandbox.routing import Route, route
from lsqsf_helpers.sandbox.salesforce import composite, soap
from lsqsf_helpers.sandbox.salesforce.composite import RestHandler
from lsqsf_helpers.sandbox.salesforce.models import (
    LOGIN_HOST,
    NOT_FOUND_MESSAGE,
    SUPPORTED_VERSIONS,
    TEST_HOST,
    ApiError,
    LoginError,
    MetadataFault,
    OAuthError,
    Org,
    RemoteSite,
    SalesforceModel,
    SaveOutcome,
    Session,
    release_name,
    version_supported,
)
from lsqsf_helpers.sandbox.salesforce.soql import SoqlError

V = r"(?P<ver>\d+\.\d+)"
DATA = rf"/services/data/v{V}"
ID = r"(?P<id>[^/]+)"
OBJ = r"(?P<obj>[A-Za-z0-9_]+)"
LOGIN_HOSTS = (LOGIN_HOST, TEST_HOST)
COMPOSITE_PATH = re.compile(rf"{DATA}/(?:tooling/)?composite/?\Z")


def _error(status: int, error_code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response.json(status, [{"message": message, "errorCode": error_code}], headers)


def _not_found_json() -> Response:
    return _error(404, "NOT_FOUND", NOT_FOUND_MESSAGE)


# ----- vendor-shaped answers the app asks for -------------------------------------------------


def _soap_error(
    req: Request | None, status: int, code: str, message: str, headers: dict[str, str]
) -> Response | None:
    """The SOAP fault form of an error for a SOAP endpoint (zeep cannot read JSON), else None."""
    if req is None or not req.path.startswith("/services/Soap/"):
        return None
    if req.path.startswith("/services/Soap/u/"):
        body = soap.fault(
            f"sf:{code}",
            f"{code}: {message}",
            sf_ns=soap.PARTNER_FAULT,
            detail_type="UnexpectedErrorFault",
            exception_code=code,
            exception_message=message,
        )
    else:
        body = soap.fault(f"sf:{code}", f"{code}: {message}", sf_ns=soap.METADATA)
    return Response.xml(status, body, headers)


def fault_response(kind: str, req: Request | None = None) -> Response:
    """An injected fault, shaped like what Salesforce (or its edge) answers in that situation.

    With the request, SOAP endpoints get a SOAP fault envelope instead of a JSON list.
    """
    retry = {"Retry-After": "1"}
    if kind == "429":
        message = "Too many requests in a short time; retry later."
        return _soap_error(req, 429, "REQUEST_LIMIT_EXCEEDED", message, retry) or _error(
            429, "REQUEST_LIMIT_EXCEEDED", message, retry
        )
    if kind == "503":
        message = "The server is temporarily unavailable; retry later."
        return _soap_error(req, 503, "SERVER_UNAVAILABLE", message, retry) or _error(
            503, "SERVER_UNAVAILABLE", message, retry
        )
    if kind in ("502", "504"):
        title = "502 Bad Gateway" if kind == "502" else "504 Gateway Timeout"
        page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>\n"
        return Response(int(kind), page.encode(), "text/html; charset=utf-8")
    return internal_error(req)


def not_found(req: Request) -> Response:
    """No route matched: 405 when the path exists for other methods, else Salesforce's NOT_FOUND."""
    allowed = sorted({r.method for r in ROUTES if r.pattern.match(req.path)})
    if allowed:
        return Response.json(
            405,
            [
                {
                    "errorCode": "METHOD_NOT_ALLOWED",
                    "message": f"HTTP Method '{req.method}' not allowed. Allowed are {','.join(allowed)}",
                }
            ],
            {"Allow": ", ".join(allowed)},
        )
    return _not_found_json()


def too_large(req: Request | None = None) -> Response:
    message = "The request body is larger than the lsqsf sandbox accepts (1 MiB)."
    return _soap_error(req, 413, "REQUEST_ENTITY_TOO_LARGE", message, {}) or _error(
        413, "REQUEST_ENTITY_TOO_LARGE", message
    )


def internal_error(req: Request | None = None) -> Response:
    error_id = f"{secrets.randbelow(10**9)}-{secrets.randbelow(10**5)}"
    message = f"An unexpected error occurred. Please include this ErrorId if you contact support: {error_id}"
    return _soap_error(req, 500, "UNKNOWN_EXCEPTION", message, {}) or _error(
        500, "UNKNOWN_EXCEPTION", message
    )


# ----- helpers --------------------------------------------------------------------------------


def _bearer(req: Request) -> str | None:
    header = req.headers.get_header("authorization").strip()
    for scheme in ("Bearer ", "OAuth "):
        if header[: len(scheme)].lower() == scheme.lower():
            return header[len(scheme) :].strip() or None
    return None


def _with_usage(model: SalesforceModel, label: str | None, response: Response) -> Response:
    if label is not None and label in model.orgs and response.status != 401:
        response.headers["Sforce-Limit-Info"] = model.limit_info(label)
    return response


def _unknown_host(req: Request) -> Response | None:
    """The answer for a data call on a host that is no org's My Domain, or None when it is one."""
    if req.org is not None:
        return None
    if req.host in LOGIN_HOSTS:
        return _error(401, "INVALID_SESSION_ID", "Session expired or invalid")
    return _not_found_json()


def _json_body(req: Request) -> Any:
    try:
        return req.json()
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "JSON_PARSER_ERROR", f"The request body is not valid JSON: {exc}") from None


def _rest(api: str, fn: RestHandler) -> Callable[[SalesforceModel, Request, re.Match[str]], Response]:
    """Wrap a REST/Tooling handler: version, host, session and limits first; errors as JSON lists."""

    def handler(model: SalesforceModel, req: Request, match: re.Match[str]) -> Response:
        version = match.group("ver")
        if not version_supported(version):
            return _not_found_json()
        bad_host = _unknown_host(req)
        if bad_host is not None:
            return bad_host
        try:
            org, session = model.begin_call(req.org, _bearer(req), api)
        except ApiError as exc:
            return _with_usage(model, req.org, Response.json(exc.status, exc.body()))
        response = serve(fn, model, req, match, org, session, version)
        return _with_usage(model, org.label, response)

    handler.__name__ = fn.__name__
    return handler


def serve(
    fn: RestHandler,
    model: SalesforceModel,
    req: Request,
    match: re.Match[str],
    org: Org,
    session: Session,
    version: str,
) -> Response:
    """Run an authorised handler, answering the model's refusals as Salesforce's JSON error lists."""
    try:
        return fn(model, req, match, org, session, version)
    except ApiError as exc:
        return Response.json(exc.status, exc.body())
    except SoqlError as exc:
        return _error(400, exc.error_code, exc.message)


# ----- REST -----------------------------------------------------------------------------------


def versions(model: SalesforceModel, req: Request, match: re.Match[str]) -> Response:
    return Response.json(
        200,
        [{"label": release_name(v), "url": f"/services/data/v{v}", "version": v} for v in SUPPORTED_VERSIONS],
    )


def resources(
    model: SalesforceModel, req: Request, match: re.Match[str], org: Org, session: Session, version: str
) -> Response:
    base = f"/services/data/v{version}"
    names = (
        "tooling",
        "metadata",
        "query",
        "sobjects",
        "limits",
        "chatter",
        "connect",
        "search",
        "composite",
    )
    return Response.json(200, {name: f"{base}/{name}" for name in names})


def rest_query(
    model: SalesforceModel, req: Request, match: re.Match[str], org: Org, session: Session, version: str
) -> Response:
    return Response.json(200, model.query(org, "rest", req.param("q"), version))


def tooling_query(
    model: SalesforceModel, req: Request, match: re.Match[str], org: Org, session: Session, version: str
) -> Response:
    return Response.json(200, model.query(org, "tooling", req.param("q"), version))


def rest_get(
    model: SalesforceModel, req: Request, match: re.Match[str], org: Org, session: Session, version: str
) -> Response:
    record = model.get_record(org, "rest", match["obj"], match["id"], version, req.param("fields") or None)
    return Response.json(200, record)


def tooling_get(
    model: SalesforceModel, req: Request, match: re.Match[str], org: Org, session: Session, version: str
) -> Response:
    record = model.get_record(org, "tooling", match["obj"], match["id"], version, req.param("fields") or None)
    return Response.json(200, record)


def rest_patch(
    model: SalesforceModel, req: Request, match: re.Match[str], org: Org, session: Session, version: str
) -> Response:
    model.update_record(org, session, match["obj"], match["id"], _json_body(req))
    return Response(204, b"", "application/json;charset=UTF-8")


def tooling_create(
    model: SalesforceModel, req: Request, match: re.Match[str], org: Org, session: Session, version: str
) -> Response:
    return Response.json(201, model.create_record(org, session, "tooling", match["obj"], _json_body(req)))


def rest_limits(
    model: SalesforceModel, req: Request, match: re.Match[str], org: Org, session: Session, version: str
) -> Response:
    return Response.json(200, model.limits(org))


def chatter_me(
    model: SalesforceModel, req: Request, match: re.Match[str], org: Org, session: Session, version: str
) -> Response:
    return Response.json(200, model.chatter_me(org, session, version))


def rest_composite(
    model: SalesforceModel, req: Request, match: re.Match[str], org: Org, session: Session, version: str
) -> Response:
    return composite.execute(model, req, org, session, REST_SUBREQUESTS)


def tooling_composite(
    model: SalesforceModel, req: Request, match: re.Match[str], org: Org, session: Session, version: str
) -> Response:
    return composite.execute(model, req, org, session, TOOLING_SUBREQUESTS)


def is_read_only_composite(req: Request) -> bool:
    """A POST to a composite resource whose subrequests are all GETs."""
    if req.method != "POST" or not COMPOSITE_PATH.match(req.path):
        return False
    return composite.is_read_only(req.body)


def _answering(fn: RestHandler) -> RestHandler:
    """A handler for a composite subrequest: the call is authorised already; errors become its answer."""
    return partial(serve, fn)


# ----- OAuth ----------------------------------------------------------------------------------


def _basic(req: Request) -> tuple[str, str] | None:
    header = req.headers.get_header("authorization").strip()
    if header[:6].lower() != "basic ":
        return None
    try:
        key, _, secret = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")
    return key, secret


def oauth_token(model: SalesforceModel, req: Request, match: re.Match[str]) -> Response:
    if req.org is None and req.host not in LOGIN_HOSTS:
        return _not_found_json()
    try:
        payload = model.oauth_token(req.host, req.form(), _basic(req))
    except OAuthError as exc:
        return Response.json(exc.status, {"error": exc.error, "error_description": exc.description})
    return Response.json(200, payload)


def userinfo(model: SalesforceModel, req: Request, match: re.Match[str]) -> Response:
    if req.org is None and req.host not in LOGIN_HOSTS:
        return _not_found_json()
    info = model.userinfo(
        req.host, _bearer(req) or req.param("access_token") or req.form().get("access_token")
    )
    if info is None:
        return Response.text(403, "Bad_OAuth_Token")
    return Response.json(200, info)


# ----- SOAP: partner login --------------------------------------------------------------------


def _partner_fault(code: str, message: str, detail_type: str = "UnexpectedErrorFault") -> Response:
    body = soap.fault(
        f"sf:{code}",
        f"{code}: {message}",
        sf_ns=soap.PARTNER_FAULT,
        detail_type=detail_type,
        exception_code=code,
        exception_message=message,
    )
    return Response.xml(500, body)


def _client_fault(message: str, sf_ns: str | None = None) -> Response:
    return Response.xml(500, soap.fault("soapenv:Client", message, sf_ns=sf_ns))


def _soap_request(
    req: Request,
    version: str,
    api_fault: Callable[[str, str], Response],
    namespace: str,
    operations: tuple[str, ...],
    emulated: str,
) -> soap.Envelope | Response:
    """What both SOAP endpoints check first, in this order: the host, the API version, the envelope,
    and an operation of theirs. The envelope, or the answer to give instead (`api_fault` speaks the
    endpoint's fault dialect; `emulated` says in a refusal what the sandbox answers)."""
    sf_ns = soap.METADATA if namespace == soap.METADATA else None
    if req.org is None and req.host not in LOGIN_HOSTS:
        return _not_found_json()
    if not version_supported(version):
        return api_fault("UNSUPPORTED_API_VERSION", f"Invalid Api version specified on URL: {version}")
    try:
        envelope = soap.parse_envelope(req.body)
    except soap.SoapParseError as exc:
        return _client_fault(str(exc), sf_ns)
    tag = envelope.operation.tag
    if soap.namespace(tag) != namespace or soap.local(tag) not in operations:
        return _client_fault(
            f"No operation available for request {tag} (the lsqsf sandbox emulates {emulated})", sf_ns
        )
    return envelope


def soap_partner(model: SalesforceModel, req: Request, match: re.Match[str]) -> Response:
    version = match.group("ver")
    envelope = _soap_request(req, version, _partner_fault, soap.PARTNER, ("login",), "only login")
    if isinstance(envelope, Response):
        return envelope
    operation = envelope.operation
    try:
        result = model.soap_login(
            req.host, soap.child_text(operation, "username"), soap.child_text(operation, "password"), version
        )
    except LoginError as exc:
        return _partner_fault(exc.code, exc.message, "LoginFault")
    org, user = result.org, result.user
    base = f"{org.instance_url}/services/Soap"
    e = soap.element
    user_info = "".join(
        [
            e("accessibilityMode", False),
            e("chatterExternal", False),
            e("currencySymbol", "$"),
            e("orgAttachmentFileSizeLimit", 5242880),
            e("orgDefaultCurrencyIsoCode", "USD"),
            e("orgDefaultCurrencyLocale", "en_US"),
            e("orgDisallowHtmlAttachments", False),
            e("orgHasPersonAccounts", False),
            e("organizationId", org.org_id),
            e("organizationMultiCurrency", False),
            e("organizationName", org.tables["Organization"][0]["Name"]),
            e("profileId", user["ProfileId"]),
            e("roleId", None),
            e("sessionSecondsValid", 7200),
            e("userDefaultCurrencyIsoCode", None),
            e("userEmail", user["Email"]),
            e("userFullName", user["Name"]),
            e("userId", user["Id"]),
            e("userLanguage", user["LanguageLocaleKey"]),
            e("userLocale", user["LocaleSidKey"]),
            e("userName", user["Username"]),
            e("userTimeZone", user["TimeZoneSidKey"]),
            e("userType", user["UserType"]),
            e("userUiSkin", "Theme3"),
        ]
    )
    body = (
        "<loginResponse><result>"
        + e("metadataServerUrl", f"{base}/m/{version}/{org.org_id15}")
        + e("passwordExpired", False)
        + e("sandbox", org.is_sandbox)
        + e("serverUrl", f"{base}/u/{version}/{org.org_id15}")
        + e("sessionId", result.session_id)
        + e("userId", user["Id"])
        + f"<userInfo>{user_info}</userInfo>"
        + "</result></loginResponse>"
    )
    return Response.xml(200, soap.envelope(body, soap.PARTNER))


# ----- SOAP: Metadata API ---------------------------------------------------------------------


def _md_fault(code: str, message: str) -> Response:
    return Response.xml(500, soap.fault(f"sf:{code}", f"{code}: {message}", sf_ns=soap.METADATA))


_BOOLEAN = {"true": True, "1": True, "false": False, "0": False}


def _md_items(operation: ET.Element) -> tuple[str | None, list[dict[str, Any]]]:
    """The metadata type and the components of a create/update/upsert call."""
    types: set[str | None] = set()
    items: list[dict[str, Any]] = []
    for node in soap.children(operation, "metadata"):
        types.add(soap.xsi_type(node))
        item: dict[str, Any] = {}
        for name in ("fullName", "description", "url"):
            item[name] = soap.child_text(node, name)
        for name in ("isActive", "disableProtocolSecurity"):
            raw = soap.child_text(node, name)
            if raw is None or raw.strip() == "":
                item[name] = None
                continue
            if raw.strip().lower() not in _BOOLEAN:
                raise soap.SoapParseError(f"Unable to parse {name} value {raw!r} as an xsd:boolean")
            item[name] = _BOOLEAN[raw.strip().lower()]
        items.append(item)
    if len(types) > 1:
        raise MetadataFault("INVALID_TYPE", "All components in one call must be of the same metadata type")
    return (next(iter(types)) if types else "RemoteSiteSetting"), items


def _site_xml(site: RemoteSite | None) -> str:
    if site is None:
        return '<records xsi:type="RemoteSiteSetting"/>'
    e = soap.element
    description = e("description", site.description) if site.description is not None else ""
    return (
        '<records xsi:type="RemoteSiteSetting">'
        + e("fullName", site.full_name)
        + description
        + e("disableProtocolSecurity", site.disable_protocol_security)
        + e("isActive", site.is_active)
        + e("url", site.url)
        + "</records>"
    )


def _result_xml(outcome: SaveOutcome, upsert: bool) -> str:
    e = soap.element
    errors = "".join(
        "<errors>"
        + "".join(e("fields", f) for f in fields)
        + e("message", message)
        + e("statusCode", code)
        + "</errors>"
        for code, message, fields in outcome.errors
    )
    created = e("created", outcome.created) if upsert else ""
    return (
        f"<result>{created}{errors}{e('fullName', outcome.full_name)}{e('success', outcome.success)}</result>"
    )


_MD_API_MESSAGES = {
    "INVALID_SESSION_ID": "Invalid Session ID found in SessionHeader: Illegal Session",
    "API_DISABLED_FOR_ORG": "API is not enabled for this Organization or Partner",
    "REQUEST_LIMIT_EXCEEDED": "TotalRequests Limit exceeded.",
}


def soap_metadata(model: SalesforceModel, req: Request, match: re.Match[str]) -> Response:
    version = match.group("ver")
    known = ("readMetadata", "createMetadata", "updateMetadata", "upsertMetadata", "deleteMetadata")
    envelope = _soap_request(req, version, _md_fault, soap.METADATA, known, ", ".join(known))
    if isinstance(envelope, Response):
        return envelope
    operation = envelope.operation
    op_name = soap.local(operation.tag)
    token = None
    if envelope.header is not None:
        for header in soap.children(envelope.header, "SessionHeader"):
            token = (soap.child_text(header, "sessionId") or "").strip() or None
    try:
        org, session = model.begin_call(req.org, token, "metadata")
    except ApiError as exc:
        return _md_fault(exc.error_code, _MD_API_MESSAGES.get(exc.error_code, exc.message))
    try:
        model.require_metadata_access(org, session)
        if op_name in ("readMetadata", "deleteMetadata"):
            metadata_type = soap.child_text(operation, "type")
            names = [(n.text or "") for n in soap.children(operation, "fullNames")]
            if op_name == "readMetadata":
                records = "".join(_site_xml(s) for s in model.read_metadata(org, metadata_type, names))
                body = f"<readMetadataResponse><result>{records}</result></readMetadataResponse>"
            else:
                results = model.delete_metadata(org, metadata_type, names)
                inner = "".join(_result_xml(r, False) for r in results)
                body = f"<deleteMetadataResponse>{inner}</deleteMetadataResponse>"
        else:
            metadata_type, items = _md_items(operation)
            kind = op_name.removesuffix("Metadata")
            results = model.save_metadata(org, kind, metadata_type, items)
            inner = "".join(_result_xml(r, kind == "upsert") for r in results)
            body = f"<{op_name}Response>{inner}</{op_name}Response>"
    except MetadataFault as exc:
        return _md_fault(exc.code, exc.message)
    except soap.SoapParseError as exc:
        return _client_fault(str(exc), soap.METADATA)
    return Response.xml(200, soap.envelope(body, soap.METADATA))


# ----- the route table ------------------------------------------------------------------------

ROUTES: tuple[Route, ...] = (
    route("salesforce", "POST", rf"/services/Soap/u/{V}(?:/[A-Za-z0-9]*)?", soap_partner, "sf.login"),
    route("salesforce", "POST", rf"/services/Soap/m/{V}(?:/[A-Za-z0-9]*)?", soap_metadata, "sf.metadata"),
    route("salesforce", "POST", r"/services/oauth2/token", oauth_token, "sf.oauth"),
    route("salesforce", "GET", r"/services/oauth2/userinfo", userinfo, "sf.oauth"),
    route("salesforce", "POST", r"/services/oauth2/userinfo", userinfo, "sf.oauth"),
    route("salesforce", "GET", r"/services/data/?", versions, "sf.rest"),
    route("salesforce", "GET", rf"{DATA}/?", _rest("rest", resources), "sf.rest"),
    route("salesforce", "GET", rf"{DATA}/query/?", _rest("rest", rest_query), "sf.rest"),
    route("salesforce", "GET", rf"{DATA}/sobjects/{OBJ}/{ID}/?", _rest("rest", rest_get), "sf.rest"),
    route("salesforce", "PATCH", rf"{DATA}/sobjects/{OBJ}/{ID}/?", _rest("rest", rest_patch), "sf.rest"),
    route("salesforce", "GET", rf"{DATA}/limits/?", _rest("rest", rest_limits), "sf.rest"),
    route("salesforce", "GET", rf"{DATA}/chatter/users/me/?", _rest("rest", chatter_me), "sf.rest"),
    route("salesforce", "POST", rf"{DATA}/composite/?", _rest("rest", rest_composite), "sf.rest"),
    route("salesforce", "GET", rf"{DATA}/tooling/query/?", _rest("tooling", tooling_query), "sf.tooling"),
    route(
        "salesforce",
        "GET",
        rf"{DATA}/tooling/sobjects/{OBJ}/{ID}/?",
        _rest("tooling", tooling_get),
        "sf.tooling",
    ),
    route(
        "salesforce",
        "POST",
        rf"{DATA}/tooling/sobjects/{OBJ}/?",
        _rest("tooling", tooling_create),
        "sf.tooling",
    ),
    route(
        "salesforce",
        "POST",
        rf"{DATA}/tooling/composite/?",
        _rest("tooling", tooling_composite),
        "sf.tooling",
    ),
)

# What a composite subrequest may address (Salesforce: sObject rows and the query resource; the
# REST composite also takes sObject collections, which the sandbox does not emulate).
REST_SUBREQUESTS: tuple[composite.Subroute, ...] = (
    composite.subroute("GET", rf"{DATA}/query/?", _answering(rest_query)),
    composite.subroute("GET", rf"{DATA}/sobjects/{OBJ}/{ID}/?", _answering(rest_get)),
    composite.subroute("PATCH", rf"{DATA}/sobjects/{OBJ}/{ID}/?", _answering(rest_patch)),
)
TOOLING_SUBREQUESTS: tuple[composite.Subroute, ...] = (
    composite.subroute("GET", rf"{DATA}/tooling/query/?", _answering(tooling_query)),
    composite.subroute("GET", rf"{DATA}/tooling/sobjects/{OBJ}/{ID}/?", _answering(tooling_get)),
    composite.subroute("POST", rf"{DATA}/tooling/sobjects/{OBJ}/?", _answering(tooling_create)),
)
