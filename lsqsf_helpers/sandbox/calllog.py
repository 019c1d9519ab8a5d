"""The sandbox's request log: what tests and benchmarks read to count round trips per org and API."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from typing import Any

KEEP_LAST = 2000  # entries kept for GET /_sandbox/calls; counts cover every call


@dataclass(frozen=True)
class Call:
    seq: int
    at: float
    vendor: str
    api: str
    org: str | None
    method: str
    host: str
    path: str
    status: int
    fault: str | None
    read: bool  # changes nothing: a GET, or a composite call whose subrequests are all GETs


class CallLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._seq = 0
        self._by_org: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._faults: Counter[str] = Counter()

    def record(
        self,
        vendor: str,
        api: str,
        org: str | None,
        method: str,
        host: str,
        path: str,
        status: int,
        fault: str | None,
        read: bool,
    ) -> None:
        with self._lock:
            self._seq += 1
            self._calls.append(
                Call(self._seq, time.time(), vendor, api, org, method, host, path, status, fault, read)
            )
            del self._calls[:-KEEP_LAST]
            self._by_org[org or "-"][api] += 1
            if fault:
                self._faults[fault] += 1

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self._seq = 0
            self._by_org.clear()
            self._faults.clear()

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self._seq,
                "by_org": {org: dict(counts) for org, counts in sorted(self._by_org.items())},
                "faults": dict(self._faults),
                "calls": [asdict(c) for c in self._calls],
            }
