"""`lsqsf check` in-process vs the runbook notebook (headless.execute), same org, interleaved: `.venv/bin/python bench/bench_check_vs_notebook.py [--rounds 3]`."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchkit import practice_org

from lsqsf_helpers import headless
from lsqsf_helpers.checkrun import check_orgs
from lsqsf_helpers.sandbox import Sandbox


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    org = practice_org("ready")
    in_process, notebook = [], []
    with tempfile.TemporaryDirectory() as tmp, Sandbox(["ready"]) as sb:
        for i in range(args.rounds + 1):  # round 0 warms imports, the kernel spec and caches: not counted
            sb.app.reset()  # each run starts from the same org state (LeadSquared rate windows included)
            t0 = time.perf_counter()
            (record,) = check_orgs([org], apply=False, sandbox_url=sb.url)
            t1 = time.perf_counter()
            sb.app.reset()
            t2 = time.perf_counter()
            output = headless.execute(org, Path(tmp) / f"run{i}", apply=False, sandbox_url=sb.url)
            t3 = time.perf_counter()
            assert record.ready and output.ready
            if i:
                in_process.append(t1 - t0)
                notebook.append(t3 - t2)
    check, nb = statistics.median(in_process), statistics.median(notebook)
    print(f"lsqsf check, in-process, one org : {check * 1000:8.1f} ms (median of {args.rounds})")
    print(f"runbook notebook, one org        : {nb * 1000:8.1f} ms (median of {args.rounds})")
    print(f"ratio notebook / in-process      : {nb / check:8.1f}x")


if __name__ == "__main__":
    main()
