"""Start-up imports (ours vs third-party) and the client CPU of one check, sandbox sessions as shipped vs reading the environment: `.venv/bin/python bench/bench_check_profile.py [--rounds 30] [--profile]`."""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from benchkit import practice_org

from lsqsf_helpers import http
from lsqsf_helpers.checkrun import check_orgs
from lsqsf_helpers.params import OrgParams
from lsqsf_helpers.sandbox import Sandbox


def import_times(module: str, cache: str, runs: int = 5) -> tuple[float, float]:
    """(ours, third-party) milliseconds to import `module` in a fresh interpreter, best of `runs`, with
    byte code cached as on a user's machine (this environment sets PYTHONDONTWRITEBYTECODE)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {
        "PYTHONPYCACHEPREFIX": cache
    }
    command = [sys.executable, "-X", "importtime", "-c", f"import {module}"]
    subprocess.run(command, env=env, capture_output=True, check=True)  # writes the byte code
    best: tuple[float, float] | None = None
    for _ in range(runs):
        err = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stderr
        ours = theirs = 0
        for line in err.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, _, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
            if name.startswith("lsqsf_helpers") or name.startswith("__editable___lsqsf"):
                ours += int(self_us)
            else:
                theirs += int(self_us)
        if best is None or ours + theirs < sum(best) * 1000:
            best = (ours / 1000, theirs / 1000)
    assert best is not None
    return best


@contextmanager
def sandbox_sessions_reading_the_environment() -> Iterator[None]:
    """The sandbox sessions as they were before they stopped reading the environment (trust_env)."""
    original = http.LsqsfSession.__init__

    def init(self: http.LsqsfSession, **kwargs: object) -> None:
        original(self, **kwargs)  # type: ignore[arg-type]
        self.trust_env = True

    http.LsqsfSession.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        http.LsqsfSession.__init__ = original  # type: ignore[method-assign]


def one_check(sb: Sandbox, org: OrgParams) -> float:
    """Client CPU seconds (this thread; the sandbox answers on its own threads) of one check."""
    sb.app.reset()
    start = time.thread_time()
    (record,) = check_orgs([org], apply=False, sandbox_url=sb.url)
    used = time.thread_time() - start
    assert record.ready
    return used


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--profile", action="store_true", help="also print the top of a cProfile of checks")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as cache:
        for module in ("lsqsf_helpers.cli", "lsqsf_helpers.checkrun"):
            ours, theirs = import_times(module, cache)
            print(
                f"import {module:<22}: {ours + theirs:6.1f} ms, ours {ours:5.1f} ms, third-party {theirs:6.1f} ms "
                f"(ours {ours / (ours + theirs):.0%})"
            )

    org = practice_org("ready")
    shipped, environment = [], []
    with Sandbox(["ready"]) as sb:
        one_check(sb, org)  # warm-up
        for _ in range(args.rounds):  # interleaved, so machine noise hits both alike
            shipped.append(one_check(sb, org))
            with sandbox_sessions_reading_the_environment():
                environment.append(one_check(sb, org))
        a, b = statistics.median(shipped), statistics.median(environment)
        print(
            f"client CPU of one check, sandbox session as shipped     : {a * 1000:6.2f} ms (median of {args.rounds})"
        )
        print(f"client CPU of one check, session reading the environment: {b * 1000:6.2f} ms")
        print(
            f"ratio environment / shipped                             : {b / a:6.2f}x ({len(os.environ)} variables)"
        )
        if args.profile:
            profile = cProfile.Profile()
            for _ in range(args.rounds):
                sb.app.reset()
                profile.runcall(check_orgs, [org], apply=False, sandbox_url=sb.url)
            stats = pstats.Stats(profile)
            stats.sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
