"""The sandbox's own request and response values: what the server hands a wire handler and gets back.

Plain data so that wire handlers can be tested without sockets and the server stays the one place
that talks HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


class Headers(dict[str, str]):
    """Case-insensitive header lookup (keys are stored lower-cased)."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        super().__init__()
        for key, value in (items or {}).items():
            self[key.lower()] = value

    def get_header(self, name: str, default: str = "") -> str:
        return self.get(name.lower(), default)


@dataclass
class Request:
    """One parsed HTTP request. `org` is filled in by whoever can tell which sandbox org it is for."""

    method: str
    host: str
    path: str
    query: dict[str, list[str]]
    headers: Headers
    body: bytes = b""
    org: str | None = None

    @classmethod
    def build(
        cls,
        method: str,
        host: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Request:
        path, _, query = target.partition("?")
        return cls(
            method=method.upper(),
            host=host.lower().split(":")[0].rstrip("."),
            path=path,
            query=parse_qs(query, keep_blank_values=True),
            headers=Headers(headers),
            body=body,
        )

    def param(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    def form(self) -> dict[str, str]:
        """The body as application/x-www-form-urlencoded fields (first value of each)."""
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    """One HTTP response. `drop=True` tells the server to close the connection without answering."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        return cls(
            status,
            json.dumps(payload).encode("utf-8"),
            "application/json;charset=UTF-8",
            dict(headers or {}),
        )

    @classmethod
    def xml(cls, status: int, text: str, headers: dict[str, str] | None = None) -> Response:
        return cls(status, text.encode("utf-8"), "text/xml;charset=UTF-8", dict(headers or {}))

    @classmethod
    def text(cls, status: int, text: str) -> Response:
        return cls(status, text.encode("utf-8"))

    @classmethod
    def dropped(cls) -> Response:
        return cls(0, drop=True)
