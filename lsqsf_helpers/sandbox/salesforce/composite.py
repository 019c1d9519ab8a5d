"""The composite resources: REST `/composite` and Tooling `/tooling/composite`, many subrequests in one call.

What is emulated (sources in docs/sandbox-salesforce.md):
- The body is `{"allOrNone"?, "collateSubrequests"?, "compositeRequest": [{method, url, referenceId,
  body?, httpHeaders?}, …]}`; 1 to 25 subrequests, at most 5 of them queries.
- A referenceId has letters, digits and underscores, starts with a letter or digit, and is unique.
- A subrequest's url is a path under `/services/data/vXX.X/` that the resource supports: sObject rows
  and the query resource (Tooling: under `…/tooling/`).
- `@{ref.field}`, `@{ref.records[0].Id}` in a url or body is replaced by that value of an earlier
  subrequest's answer; a reference to a failed subrequest or to a value that is not there fails the
  subrequest with 400 PROCESSING_HALTED.
- allOrNone: after the first failure nothing more runs, the org's state is rolled back, and every
  other subrequest answers 400 PROCESSING_HALTED.
- The whole call is one API request against the org's limit (the wire counts it once).
The wording of the sandbox's own refusals (limits, bad referenceIds) is ours; Salesforce's differs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lsqsf_helpers.sandbox.messages import Request, Response
from lsqsf_helpers.sandbox.salesforce.models import (
    NOT_FOUND_MESSAGE,
    ApiError,
    Org,
    SalesforceModel,
    Session,
    version_supported,
)

# A REST/Tooling handler once the call is authorised: (model, request, path match, org, session, version).
RestHandler = Callable[[SalesforceModel, Request, "re.Match[str]", Org, Session, str], Response]

MAX_SUBREQUESTS = 25
MAX_QUERIES = 5
REFERENCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]*\Z")
REFERENCE = re.compile(r"@\{([A-Za-z0-9][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
METHODS = ("GET", "POST", "PATCH", "DELETE")
ROLLED_BACK = "The transaction was rolled back since another operation in the same transaction failed."


@dataclass(frozen=True)
class Subroute:
    method: str
    pattern: re.Pattern[str]
    handler: RestHandler  # answers errors itself (never raises ApiError)


def subroute(method: str, pattern: str, handler: RestHandler) -> Subroute:
    return Subroute(method, re.compile(pattern + r"\Z"), handler)


@dataclass(frozen=True)
class _Sub:
    method: str
    url: str
    reference_id: str
    body: Any


def _parse(payload: Any) -> tuple[bool, list[_Sub]]:
    """The request body checked as Salesforce does before running anything; ApiError(400) when it is wrong."""
    if not isinstance(payload, dict) or not isinstance(payload.get("compositeRequest"), list):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body needs a compositeRequest array.")
    all_or_none = payload.get("allOrNone", False)
    if not isinstance(all_or_none, bool):
        raise ApiError(400, "JSON_PARSER_ERROR", "allOrNone must be true or false.")
    raw = payload["compositeRequest"]
    if not raw:
        raise ApiError(400, "INVALID_INPUT", "The compositeRequest array is empty.")
    if len(raw) > MAX_SUBREQUESTS:
        raise ApiError(
            400, "LIMIT_EXCEEDED", f"A composite request has at most {MAX_SUBREQUESTS} subrequests."
        )
    subs: list[_Sub] = []
    seen: set[str] = set()
    for item in raw:
        if not isinstance(item, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "Each subrequest must be a JSON object.")
        method, url, ref = item.get("method"), item.get("url"), item.get("referenceId")
        if method not in METHODS:
            raise ApiError(400, "INVALID_INPUT", f"Subrequest method must be one of {', '.join(METHODS)}.")
        if not isinstance(url, str) or not url.startswith("/services/data/"):
            raise ApiError(400, "INVALID_INPUT", "Subrequest url must start with /services/data/.")
        if not isinstance(ref, str) or not REFERENCE_ID.match(ref):
            raise ApiError(
                400,
                "INVALID_INPUT",
                f"Provided referenceId ({ref!r}) must start with a letter or a number, and it can contain "
                "only letters, numbers and underscores ('_').",
            )
        if ref in seen:
            raise ApiError(400, "INVALID_INPUT", f"Duplicate referenceId ('{ref}').")
        seen.add(ref)
        subs.append(_Sub(method, url, ref, item.get("body")))
    queries = sum(1 for s in subs if s.method == "GET" and "/query" in s.url.split("?")[0])
    if queries > MAX_QUERIES:
        raise ApiError(400, "LIMIT_EXCEEDED", f"A composite request has at most {MAX_QUERIES} queries.")
    return all_or_none, subs


def is_read_only(body: bytes) -> bool:
    """True when a composite body holds only GET subrequests: such a call changes nothing."""
    try:
        payload = json.loads(body.decode("utf-8"))
        subs = payload["compositeRequest"]
        return bool(subs) and all(isinstance(s, dict) and s.get("method") == "GET" for s in subs)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        return False


class _Unresolved(Exception):
    pass


def _lookup(answers: dict[str, Any], ref: str, path: str) -> Any:
    if ref not in answers:
        raise _Unresolved(f"@{{{ref}{path}}}")
    value = answers[ref]
    for name, index in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
        try:
            value = value[int(index)] if index else value[name]
        except (KeyError, IndexError, TypeError):
            raise _Unresolved(f"@{{{ref}{path}}}") from None
    if isinstance(value, dict | list) or value is None:
        raise _Unresolved(f"@{{{ref}{path}}}")
    return value


def _substitute(text: str, answers: dict[str, Any]) -> str:
    def one(match: re.Match[str]) -> str:
        value = _lookup(answers, match.group(1), match.group(2))
        return str(value).lower() if isinstance(value, bool) else str(value)

    return REFERENCE.sub(one, text)


def _resolve_body(body: Any, answers: dict[str, Any]) -> Any:
    if isinstance(body, str):
        whole = REFERENCE.fullmatch(body)
        return _lookup(answers, whole.group(1), whole.group(2)) if whole else _substitute(body, answers)
    if isinstance(body, dict):
        return {k: _resolve_body(v, answers) for k, v in body.items()}
    if isinstance(body, list):
        return [_resolve_body(v, answers) for v in body]
    return body


def _result(reference_id: str, response: Response) -> dict[str, Any]:
    body = json.loads(response.body.decode("utf-8")) if response.body else None
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return {
        "body": body,
        "httpHeaders": headers,
        "httpStatusCode": response.status,
        "referenceId": reference_id,
    }


def _halted(reference_id: str, message: str) -> dict[str, Any]:
    return {
        "body": [{"errorCode": "PROCESSING_HALTED", "message": message}],
        "httpHeaders": {},
        "httpStatusCode": 400,
        "referenceId": reference_id,
    }


def execute(
    model: SalesforceModel,
    req: Request,
    org: Org,
    session: Session,
    subroutes: Sequence[Subroute],
) -> Response:
    """Run a composite body's subrequests in order, as the one already-authorised call `req`."""
    try:
        payload = req.json()
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "JSON_PARSER_ERROR", f"The request body is not valid JSON: {exc}") from None
    all_or_none, subs = _parse(payload)
    saved = model.savepoint(org) if all_or_none else None
    answers: dict[str, Any] = {}
    results: list[dict[str, Any]] = []
    failed = False
    for sub in subs:
        if failed and all_or_none:
            results.append(_halted(sub.reference_id, ROLLED_BACK))
            continue
        try:
            url = _substitute(sub.url, answers)
            body = _resolve_body(sub.body, answers)
        except _Unresolved as exc:
            message = (
                f"Invalid reference specified. No value for {exc} found in an earlier subrequest's answer."
            )
            results.append(_halted(sub.reference_id, message))
            failed = True
            continue
        response = _run_one(model, req, org, session, subroutes, sub.method, url, body)
        result = _result(sub.reference_id, response)
        results.append(result)
        if 200 <= response.status < 300:
            answers[sub.reference_id] = result["body"]
        else:
            failed = True
    if all_or_none and failed and saved is not None:
        model.rollback(org, saved)
        results = [
            r if r["httpStatusCode"] >= 300 else _halted(r["referenceId"], ROLLED_BACK) for r in results
        ]
    return Response.json(200, {"compositeResponse": results})


def _run_one(
    model: SalesforceModel,
    req: Request,
    org: Org,
    session: Session,
    subroutes: Sequence[Subroute],
    method: str,
    url: str,
    body: Any,
) -> Response:
    sub_req = Request.build(
        method,
        req.host,
        url,
        headers=dict(req.headers),
        body=json.dumps(body).encode("utf-8") if body is not None else b"",
    )
    sub_req.org = req.org
    for entry in subroutes:
        if entry.method != method:
            continue
        match = entry.pattern.match(sub_req.path)
        if match is None:
            continue
        version = match.group("ver")
        if not version_supported(version):
            break
        return entry.handler(model, sub_req, match, org, session, version)
    return Response.json(404, [{"errorCode": "NOT_FOUND", "message": NOT_FOUND_MESSAGE}])
