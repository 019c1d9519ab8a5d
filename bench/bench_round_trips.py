"""Vendor round trips per org and per API, from the sandbox's call log, against the target of 4 Salesforce round trips: `.venv/bin/python bench/bench_round_trips.py [--calls ready]`."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

import requests
from benchkit import practice_org

from lsqsf_helpers.checkrun import check_orgs
from lsqsf_helpers.sandbox import Sandbox, scenarios

TARGET_SF = 4
APIS = ("sf.login", "sf.oauth", "sf.rest", "sf.tooling", "sf.metadata", "lsq")
FIXABLE = ("fresh", "lightning", "no-remote-site", "wrong-remote-site")


def one_run(sb: Sandbox, label: str, *, apply: bool) -> tuple[Counter[str], list[dict[str, Any]]]:
    """Attempts per API of one org's run. Logins name no org (they go to login.salesforce.com), so the
    log is reset before each run and every call in it belongs to this org."""
    sb.app.reset()
    org = practice_org(label)
    check_orgs([org], apply=apply, sandbox_url=sb.url)
    log = requests.get(f"{sb.url}/_sandbox/calls", timeout=10).json()
    by_api: Counter[str] = Counter()
    for counts in log["by_org"].values():
        by_api.update(counts)
    return by_api, log["calls"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--calls", metavar="SCENARIO", default="ready", help="list the calls of this scenario's check"
    )
    args = parser.parse_args()
    header = f"{'scenario':<18} {'mode':<6} " + " ".join(f"{api:>11}" for api in APIS)
    print(f"{header} {'Salesforce':>10} {'/ target':>8}")
    with Sandbox() as sb:
        runs = [(name, False) for name in scenarios.SCENARIOS] + [(name, True) for name in FIXABLE]
        for name, apply in runs:
            by_api, calls = one_run(sb, name, apply=apply)
            sf = sum(n for api, n in by_api.items() if api.startswith("sf."))
            cells = " ".join(f"{by_api.get(api, 0):>11}" for api in APIS)
            print(f"{name:<18} {'apply' if apply else 'check':<6} {cells} {sf:>10} {sf / TARGET_SF:>7.2f}x")
            if name == args.calls and not apply:
                listed = calls
        print(f"\nwhere the calls of a {args.calls} check go:")
        for call in listed:
            print(f"  {call['api']:<11} {call['method']:<5} {call['host']:<34} {call['path']}")


if __name__ == "__main__":
    main()
