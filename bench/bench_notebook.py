"""One org headless through the runbook notebook, next to papermill running an empty notebook.

Both run in this process through `papermill.execute_notebook` with a fresh kernel each time,
interleaved, so machine noise hits both alike. The ratio says what the runbook adds on top of the
papermill floor (kernel start, notebook I/O). Not a test.

    .venv/bin/python bench/bench_notebook.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import nbformat
import papermill
from benchkit import practice_org

from lsqsf_helpers import headless
from lsqsf_helpers.sandbox import Sandbox


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    org = practice_org("ready")
    with tempfile.TemporaryDirectory() as tmp, Sandbox(["ready"]) as sb:
        empty = Path(tmp) / "empty.ipynb"
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("pass")])
        nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
        nbformat.write(nb, str(empty))
        floor, runbook = [], []
        for i in range(args.rounds + 1):  # the first round warms imports and caches; not counted
            t0 = time.perf_counter()
            papermill.execute_notebook(
                str(empty), str(Path(tmp) / "empty-out.ipynb"), progress_bar=False, kernel_name="python3"
            )
            t1 = time.perf_counter()
            headless.execute(org, Path(tmp) / f"run{i}", apply=False, sandbox_url=sb.url)
            t2 = time.perf_counter()
            if i:
                floor.append(t1 - t0)
                runbook.append(t2 - t1)
    f, r = statistics.median(floor), statistics.median(runbook)
    print(f"papermill, empty notebook    : {f:6.2f} s (median of {args.rounds})")
    print(f"runbook notebook, one org    : {r:6.2f} s (median of {args.rounds})")
    print(f"ratio runbook / empty        : {r / f:6.2f}x")


if __name__ == "__main__":
    main()
