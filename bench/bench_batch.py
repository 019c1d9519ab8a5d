"""Batch throughput, side by side in one run: `lsqsf batch` with 1 and 2 workers, and a plain loop of
`papermill` CLI processes (one per org, the way the batch runner must NOT work) over the same orgs.

Every variant runs the same runbook notebook for the same practice orgs against one sandbox started
here. Ratios are what to read. Not a test.

    .venv/bin/python bench/bench_batch.py [--copies 1]      (--copies N: the 12 practice orgs N times)
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import yaml
from benchkit import BIN, ROOT, orgs_file

from lsqsf_helpers.checkrun import load_and_validate
from lsqsf_helpers.headless import NOTEBOOK, run_parameters
from lsqsf_helpers.sandbox import Sandbox


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Sandbox() as sb:
        folder = Path(tmp)
        path = orgs_file(folder, args.copies)
        count = len(load_and_validate(path, sandbox_mode=True))
        batch = [str(BIN / "lsqsf"), "batch", str(path), "--sandbox", sb.url]
        one = timed([*batch, "--out", str(folder / "w1"), "--workers", "1"])
        two = timed([*batch, "--out", str(folder / "w2"), "--workers", "2"])
        (folder / "cli").mkdir()
        started = time.perf_counter()
        for org in load_and_validate(path, sandbox_mode=True):
            params = folder / f"{org.label}.yaml"
            record = folder / "cli" / f"{org.label}.json"
            params.write_text(
                yaml.safe_dump(run_parameters(org, apply=False, sandbox_url=sb.url, record_path=record))
            )
            subprocess.run(
                [
                    str(BIN / "papermill"),
                    str(NOTEBOOK),
                    str(folder / "cli" / f"{org.label}.ipynb"),
                    "-f",
                    str(params),
                    "--no-progress-bar",
                    "-k",
                    "python3",
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
        cli_loop = time.perf_counter() - started
    print(f"{count} orgs")
    print(f"lsqsf batch, 1 worker      : {one:6.1f} s  ({count / one:.2f} orgs/s)")
    print(
        f"lsqsf batch, 2 workers     : {two:6.1f} s  ({count / two:.2f} orgs/s)  -> {one / two:.2f}x faster than 1 worker"
    )
    print(
        f"loop of papermill CLI runs : {cli_loop:6.1f} s  -> in-process pool (2 workers) {cli_loop / two:.2f}x faster"
    )


if __name__ == "__main__":
    main()
