"""Peak memory of `lsqsf batch` over its whole process tree: 1 worker and 4 workers, side by side in
one run.

`lsqsf batch` runs in a child process of this script; every ~0.2 s the sampler walks that process
and all its descendants (the notebook kernels and anything they start) and sums their RSS, and
their USS (memory unique to each process, so shared libraries are counted once at most) unless
`--no-uss`. The sandbox runs in this script's process and is not counted. Peaks are of sampled
values: a spike shorter than the interval can be missed. Not a test.

    .venv/bin/python bench/bench_batch_memory.py [--copies 1] [--workers 1 4] [--interval 0.2] [--no-uss]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from benchkit import BIN, ROOT, orgs_file

from lsqsf_helpers.checkrun import load_and_validate
from lsqsf_helpers.sandbox import Sandbox

MB = 1024 * 1024
TARGET_MB = 600  # the target for 4 workers, whole tree


@dataclass
class Peaks:
    seconds: float = 0.0
    samples: int = 0
    total_rss: int = 0
    total_uss: int = 0
    parent_rss: int = 0
    kernels: int = 0
    processes: int = 0
    returncode: int | None = None


def _is_kernel(proc: psutil.Process) -> bool:
    try:
        return any("ipykernel" in part for part in proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def _sample(root: psutil.Process, peaks: Peaks, uss: bool) -> None:
    try:
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    rss = uss_sum = kernels = alive = 0
    for proc in tree:
        try:
            if uss:
                info = proc.memory_full_info()
                uss_sum += info.uss
            else:
                info = proc.memory_info()
            rss += info.rss
            if proc.pid == root.pid:
                peaks.parent_rss = max(peaks.parent_rss, info.rss)
            elif _is_kernel(proc):
                kernels += 1
            alive += 1
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue  # ended between the walk and the read
    peaks.samples += 1
    peaks.total_rss = max(peaks.total_rss, rss)
    peaks.total_uss = max(peaks.total_uss, uss_sum)
    peaks.kernels = max(peaks.kernels, kernels)
    peaks.processes = max(peaks.processes, alive)


def measure(command: list[str], interval: float, uss: bool) -> Peaks:
    peaks = Peaks()
    started = time.perf_counter()
    proc = psutil.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done = threading.Event()

    def sampler() -> None:
        while not done.is_set():
            _sample(proc, peaks, uss)
            done.wait(interval)

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    peaks.returncode = proc.wait()
    peaks.seconds = time.perf_counter() - started
    done.set()
    thread.join()
    return peaks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=1, help="the 12 practice orgs N times")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between samples")
    parser.add_argument("--no-uss", action="store_true", help="RSS only (USS reads /proc/PID/smaps)")
    args = parser.parse_args()
    results: dict[int, Peaks] = {}
    with tempfile.TemporaryDirectory() as tmp, Sandbox() as sb:
        folder = Path(tmp)
        path = orgs_file(folder, args.copies)
        count = len(load_and_validate(path, sandbox_mode=True))
        batch = [str(BIN / "lsqsf"), "batch", str(path), "--sandbox", sb.url]
        for workers in args.workers:
            out = folder / f"w{workers}"
            results[workers] = measure(
                [*batch, "--out", str(out), "--workers", str(workers)], args.interval, not args.no_uss
            )
    base = results[args.workers[0]]
    print(
        f"{count} orgs, sampled every {args.interval:g} s (process tree of `lsqsf batch`, sandbox not counted)"
    )
    uss_head = "" if args.no_uss else "  peak USS (tree)"
    print(
        f"workers  time     samples  peak RSS (tree){uss_head}  peak parent RSS  peak kernels  peak processes  RSS vs {args.workers[0]}w  exit"
    )
    for workers, p in results.items():
        uss_cell = "" if args.no_uss else f"  {p.total_uss / MB:12.0f} MB"
        print(
            f"{workers:7d}  {p.seconds:5.1f} s  {p.samples:7d}  {p.total_rss / MB:12.0f} MB{uss_cell}"
            f"  {p.parent_rss / MB:12.0f} MB  {p.kernels:12d}  {p.processes:14d}"
            f"  {p.total_rss / base.total_rss:8.2f}x  {p.returncode}"
        )
    if 4 in results:
        peak = results[4].total_rss / MB
        verdict = "met" if peak <= TARGET_MB else "NOT met"
        print(f"target: <= {TARGET_MB} MB peak RSS for 4 workers: {verdict} ({peak:.0f} MB)")


if __name__ == "__main__":
    main()
