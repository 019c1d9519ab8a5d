"""Queries per second through simple-salesforce against the sandbox, side by side in one run.

Prints, for the same SOQL against the same org: simple-salesforce `query()` on one thread, the same
on two threads, and a bare requests GET (the floor: what the sandbox costs without the client).
Ratios are what to read; absolute numbers move with the machine. Not a test.

    .venv/bin/python bench/bench_sandbox_qps.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable

import requests
from simple_salesforce import Salesforce
from simple_salesforce.format import format_soql

from lsqsf_helpers.http import mount_sandbox
from lsqsf_helpers.sandbox import Sandbox


def rate(worker: Callable[[], None], seconds: float, threads: int = 1) -> float:
    done = [0] * threads
    stop = time.perf_counter() + seconds

    def loop(slot: int) -> None:
        while time.perf_counter() < stop:
            worker()
            done[slot] += 1

    pool = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(done) / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with Sandbox(["ready"]) as sb:
        creds = requests.get(f"{sb.url}/_sandbox/orgs", timeout=5).json()["orgs"][0]["salesforce"]

        def client() -> Salesforce:
            session = requests.Session()
            mount_sandbox(session, sb.url)
            return Salesforce(
                username=creds["username"],
                password=creds["password"],
                security_token=creds["security_token"],
                session=session,
            )

        soql = format_soql("SELECT Id, Username FROM User WHERE Username = {}", creds["username"])
        sf1 = client()
        one = rate(lambda: sf1.query(soql), args.seconds)
        clients = [client(), client()]
        local = threading.local()

        def two_worker() -> None:
            if not hasattr(local, "sf"):
                local.sf = clients.pop()
            local.sf.query(soql)

        two = rate(two_worker, args.seconds, threads=2)
        raw = requests.Session()
        mount_sandbox(raw, sb.url)
        url = f"https://{sf1.sf_instance}/services/data/v59.0/query/"
        headers = {"Authorization": f"Bearer {sf1.session_id}"}
        floor = rate(
            lambda: raw.get(url, params={"q": soql}, headers=headers).raise_for_status(), args.seconds
        )
    print(f"simple-salesforce query, 1 thread : {one:8.0f} queries/s")
    print(f"simple-salesforce query, 2 threads: {two:8.0f} queries/s  ({two / one:.2f}x of 1 thread)")
    print(f"bare requests GET, 1 thread       : {floor:8.0f} queries/s  (client overhead {floor / one:.2f}x)")


if __name__ == "__main__":
    main()
