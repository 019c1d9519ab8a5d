"""Peak memory of N in-process check runs in parallel threads, one fresh subprocess per N, next to N = 1: `.venv/bin/python bench/bench_parallel_memory.py [--counts 1 4 16 64]`."""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests


def child(sandbox_url: str, labels: list[str], folder: Path) -> dict[str, Any]:
    """In a fresh interpreter: import, build the orgs, then run them all at once and measure."""
    from lsqsf_helpers.checkrun import check_org
    from lsqsf_helpers.params import parse_org
    from lsqsf_helpers.sandbox import scenarios

    orgs_listed = {
        o["org"]: o for o in requests.get(f"{sandbox_url}/_sandbox/orgs", timeout=10).json()["orgs"]
    }

    def ref(name: str, value: str) -> str:
        path = folder / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value)
        return f"file:{path}"

    orgs = []
    for label in labels:
        sf, lsq = orgs_listed[label]["salesforce"], orgs_listed[label]["leadsquared"]
        orgs.append(
            parse_org(
                {
                    "org": label,
                    "salesforce": {
                        "login": "production",
                        "auth": "password",
                        "username": sf["username"],
                        "password": ref(f"{label}.pw", sf["password"]),
                        "security_token": ref(f"{label}.tok", sf["security_token"]),
                    },
                    "leadsquared": {
                        "host": lsq["configured_host"],
                        "access_key": ref(f"{label}.ak", lsq["access_key"]),
                        "secret_key": ref(f"{label}.sk", lsq["secret_key"]),
                    },
                    "connector": {
                        "package_version_id": scenarios.FAKE_PACKAGE_VERSION_ID,
                        "namespace": scenarios.FAKE_NAMESPACE,
                    },
                }
            )
        )
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(orgs)) as pool:
        records = list(pool.map(lambda org: check_org(org, apply=False, sandbox_url=sandbox_url), orgs))
    wall = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    after_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "n": len(orgs),
        "ready": sum(r.ready for r in records),
        "wall": wall,
        "traced_peak_mb": peak / 2**20,
        "rss_before_mb": before_kb / 1024,
        "rss_peak_mb": after_kb / 1024,
        "threads": threading.active_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--child", nargs=3, metavar=("URL", "LABELS", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, labels, folder = args.child
        print(json.dumps(child(url, labels.split(","), Path(folder))))
        return

    from lsqsf_helpers.sandbox import Sandbox

    rows = []
    with Sandbox([]) as sb, tempfile.TemporaryDirectory() as tmp:
        for n in args.counts:
            sb.app.reset()
            labels = requests.post(
                f"{sb.url}/_sandbox/orgs", json={"scenario": "ready", "count": n}, timeout=10
            ).json()["orgs"]
            folder = Path(tmp) / f"n{n}"
            folder.mkdir()
            out = subprocess.run(
                [sys.executable, __file__, "--child", sb.url, ",".join(labels), str(folder)],
                capture_output=True,
                text=True,
            )
            if out.returncode:
                raise SystemExit(f"the run of {n} orgs failed:\n{out.stderr}")
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = rows[0]
    print(
        f"{'N':>4} {'ready':>5} {'wall s':>7} {'traced peak MB':>15} {'RSS before MB':>14} {'RSS peak MB':>12} "
        f"{'RSS growth MB':>14} {'per org MB':>11} {'traced / N=1':>13}"
    )
    for row in rows:
        growth = row["rss_peak_mb"] - row["rss_before_mb"]
        print(
            f"{row['n']:>4} {row['ready']:>5} {row['wall']:>7.2f} {row['traced_peak_mb']:>15.2f} "
            f"{row['rss_before_mb']:>14.1f} {row['rss_peak_mb']:>12.1f} {growth:>14.1f} "
            f"{growth / row['n']:>11.2f} {row['traced_peak_mb'] / base['traced_peak_mb']:>12.1f}x"
        )


if __name__ == "__main__":
    main()
