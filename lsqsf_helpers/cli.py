"""The `lsqsf` command line: one sub-command per stage, exit codes per the CLI contract.

0 every org ready · 1 some org not ready or failed · 2 bad input · 3 internal error.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from lsqsf_helpers import __version__
from lsqsf_helpers.errors import UsageError

EXIT_READY, EXIT_NOT_READY, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
EMBEDDED = "embedded"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "orgs.yaml"


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad arguments already; keep its message to one line plus usage."""


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lsqsf", description="LeadSquared Connector runbook for Salesforce.")
    parser.add_argument("--version", action="version", version=f"lsqsf {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log HTTP retries and steps to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sb = sub.add_parser("sandbox", help="serve the local Salesforce + LeadSquared emulator")
    sb.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    sb.add_argument(
        "--scenario",
        action="append",
        default=None,
        metavar="NAME",
        help="practice org to load (repeatable; 'all' or omitted: one org per scenario)",
    )
    ck = sub.add_parser("check", help="check (and with --apply, fix) every step for the orgs in ORG_FILE")
    ck.add_argument("org_file", metavar="ORG_FILE", help="YAML org file: one org, or orgs: [...]")
    _add_run_options(ck)
    ck.add_argument("--json", metavar="PATH", help="write the JSON record(s) here")

    run = sub.add_parser("run", help="execute the runbook notebook headless for one org (papermill)")
    run.add_argument("org_file", metavar="ORG_FILE", help="YAML org file with one org")
    run.add_argument(
        "--out", required=True, metavar="DIR", help="folder for the executed notebook and JSON record"
    )
    _add_run_options(run)

    demo = sub.add_parser(
        "demo", help="the README demo: check examples/orgs.yaml against the embedded sandbox"
    )
    demo.add_argument("--json", metavar="PATH", help="write the JSON records here")
    return parser


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--apply", action="store_true", help="fix what the APIs allow (default: check only)")
    parser.add_argument(
        "--sandbox",
        nargs="?",
        const=EMBEDDED,
        default=None,
        metavar="URL",
        help="run against the sandbox: alone, an embedded one with every scenario; or a running one's URL",
    )


def _scenario_names(requested: list[str] | None) -> list[str]:
    from lsqsf_helpers.sandbox import scenarios

    if not requested or requested == ["all"]:
        return list(scenarios.SCENARIOS)
    for name in requested:
        scenarios.get(name)  # ValueError names the choices
    return requested


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from lsqsf_helpers.sandbox import Sandbox

    try:
        names = _scenario_names(args.scenario)
    except ValueError as exc:
        raise UsageError(str(exc), field="--scenario") from None
    if not 0 <= args.port <= 65535:
        raise UsageError("must be from 0 to 65535", field="--port")
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    try:
        sandbox = Sandbox(names, port=args.port)
    except OSError as exc:
        raise UsageError(f"cannot listen on 127.0.0.1:{args.port} ({exc.strerror})", field="--port") from None
    with sandbox:
        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
        print(f"lsqsf sandbox listening on {sandbox.url}", flush=True)
        print(f"  control API: {sandbox.url}/_sandbox/orgs  (fake credentials for every org)", flush=True)
        for org in sandbox.app.orgs():
            sf, lsq = org["salesforce"], org["leadsquared"]
            print(
                f"  {org['org']:<18} {sf['my_domain']:<44} LeadSquared {lsq['host']:<26} {org['summary']}",
                flush=True,
            )
        print("Stop with Ctrl-C.", flush=True)
        while not stop.wait(0.5):
            pass
    print("lsqsf sandbox stopped.", flush=True)
    return EXIT_READY


@contextmanager
def _sandbox_url(option: str | None) -> Iterator[str | None]:
    """None without --sandbox; an embedded sandbox's URL for a bare --sandbox; else the URL given."""
    if option is None:
        yield None
        return
    if option != EMBEDDED:
        from lsqsf_helpers.http import SandboxAdapter

        try:
            SandboxAdapter(option)
        except ValueError as exc:
            raise UsageError(str(exc), field="--sandbox") from None
        yield option.rstrip("/")
        return
    from lsqsf_helpers.sandbox import Sandbox

    with Sandbox() as sandbox:
        yield sandbox.url


def _check_orgs(org_file: Path, *, apply: bool, sandbox: str | None, json_path: str | None) -> int:
    from lsqsf_helpers import checkrun, render

    orgs = checkrun.load_and_validate(org_file, sandbox_mode=sandbox is not None)
    if json_path:
        render.ensure_writable(Path(json_path), field="--json")
    with _sandbox_url(sandbox) as url:
        records = checkrun.check_orgs(orgs, apply=apply, sandbox_url=url, on_record=_print_record)
    if json_path:
        render.write_atomic(Path(json_path), render.records_json(records))
    return EXIT_READY if all(r.ready for r in records) else EXIT_NOT_READY


def _print_record(record: object) -> None:
    from lsqsf_helpers import render
    from lsqsf_helpers.runbook import RunRecord

    assert isinstance(record, RunRecord)
    print(render.record_text(record), flush=True)


def _cmd_check(args: argparse.Namespace) -> int:
    return _check_orgs(Path(args.org_file), apply=args.apply, sandbox=args.sandbox, json_path=args.json)


def _cmd_run(args: argparse.Namespace) -> int:
    from lsqsf_helpers import checkrun, headless

    org = headless.single_org(
        checkrun.load_and_validate(Path(args.org_file), sandbox_mode=args.sandbox is not None)
    )
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a folder", field="--out")
    with _sandbox_url(args.sandbox) as url:
        result = headless.execute(org, out, apply=args.apply, sandbox_url=url)
    print(f"{org.label}: {'READY' if result.ready else 'NOT READY'}", flush=True)
    for step in result.record_data.get("steps", []):
        print(f"  {step['status']:<14} {step['id']}", flush=True)
    print(f"executed notebook: {result.notebook}\nrecord: {result.record}", flush=True)
    return EXIT_READY if result.ready else EXIT_NOT_READY


def _cmd_demo(args: argparse.Namespace) -> int:
    print(
        f"lsqsf demo: checking {EXAMPLES.name} against the embedded sandbox (one practice org per scenario)\n"
    )
    code = _check_orgs(EXAMPLES, apply=False, sandbox=EMBEDDED, json_path=args.json)
    print(
        "\nDemo done: the orgs above are the sandbox's practice orgs; exit code 1 means some are not ready."
    )
    return code


COMMANDS = {"sandbox": _cmd_sandbox, "check": _cmd_check, "run": _cmd_run, "demo": _cmd_demo}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"lsqsf: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("lsqsf: interrupted", file=sys.stderr)
        return EXIT_NOT_READY
    except Exception as exc:  # the last line of defence: one line, no traceback, exit 3
        logging.getLogger(__name__).debug("internal error", exc_info=True)
        print(
            f"lsqsf: internal error: {type(exc).__name__}: {exc} (rerun with -v for details)", file=sys.stderr
        )
        return EXIT_INTERNAL
