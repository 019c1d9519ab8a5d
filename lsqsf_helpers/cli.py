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
from typing import TYPE_CHECKING

from lsqsf_helpers import __version__
from lsqsf_helpers.errors import Failure, UsageError
from lsqsf_helpers.redact import RedactingFilter
from lsqsf_helpers.watchdog import DEFAULT_TIMEOUT, checked_timeout

if TYPE_CHECKING:
    from lsqsf_helpers.runbook import RunRecord

EXIT_READY, EXIT_NOT_READY, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
EMBEDDED = "embedded"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "orgs.yaml"
DEFAULT_BATCH_WORKERS = 2  # batch.DEFAULT_WORKERS; not imported, so `lsqsf --help` stays light


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lsqsf", description="LeadSquared Connector runbook for Salesforce."
    )
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
    _add_audit_option(ck)

    run = sub.add_parser("run", help="execute the runbook notebook headless for one org (papermill)")
    run.add_argument("org_file", metavar="ORG_FILE", help="YAML org file with one org")
    run.add_argument(
        "--out", required=True, metavar="DIR", help="folder for the executed notebook and JSON record"
    )
    _add_timeout_option(run)
    _add_run_options(run)
    _add_audit_option(run)

    demo = sub.add_parser(
        "demo",
        help="the README demo: a batch over examples/orgs.yaml against the embedded sandbox, with a report",
    )
    demo.add_argument(
        "--out",
        default="demo-out",
        metavar="DIR",
        help="results folder (default ./demo-out; an earlier demo there is replaced)",
    )
    _add_workers_option(demo)

    bt = sub.add_parser(
        "batch", help="execute the runbook notebook for every org in ORGS_FILE, a fresh kernel per org"
    )
    bt.add_argument("orgs_file", metavar="ORGS_FILE", help="YAML org file: one org, or orgs: [...]")
    bt.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="folder for DIR/<org>/notebook.ipynb + record.json, batch.json and the summary",
    )
    _add_workers_option(bt)
    bt.add_argument(
        "--resume",
        action="store_true",
        help="continue the batch in DIR: orgs that finished are not run again",
    )
    _add_timeout_option(bt)
    bt.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run the orgs on this Dask distributed cluster (the dask extra; DIR shared with the workers)",
    )
    _add_run_options(bt)
    _add_audit_option(bt)

    train = sub.add_parser("train", help="serve the runbook to trainees with Voila (127.0.0.1 only, sandbox)")
    train.add_argument("--scenario", default="fresh", metavar="NAME", help="practice org the app opens with")
    train.add_argument("--port", type=int, default=8866, help="port on 127.0.0.1 (0: a free one)")

    report = sub.add_parser("report", help="rebuild a batch folder's summary files and report.html")
    report.add_argument("dir", metavar="DIR", help="the batch output folder (DIR/<org>/record.json)")
    return parser


def _add_workers_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_BATCH_WORKERS,
        metavar="N",
        help=f"orgs run at once, each in its own kernel (default {DEFAULT_BATCH_WORKERS})",
    )


def _add_timeout_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"stop an org that runs longer; also each cell's limit (default {DEFAULT_TIMEOUT:g})",
    )


def _add_audit_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--audit", metavar="PATH", help="append every change an apply run makes to this JSON-lines log"
    )


def _audit_path(value: str | None) -> Path | None:
    """The --audit log, absolute (kernels append to it too), refused before anything runs when it
    cannot be written."""
    if not value:
        return None
    from lsqsf_helpers import render

    path = Path(value).absolute()
    render.ensure_writable(path, field="--audit")
    return path


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


def _check_sandbox_url(option: str) -> None:
    """A running sandbox's URL is exactly http://127.0.0.1:PORT (or localhost): nothing else is sent to."""
    from urllib.parse import urlsplit

    from lsqsf_helpers.http import SandboxAdapter

    try:
        SandboxAdapter(option)
        parts = urlsplit(option)
        port = parts.port  # ValueError for a port that is not a number from 0 to 65535
    except ValueError as exc:
        raise UsageError(str(exc), field="--sandbox") from None
    if (
        port is None
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise UsageError(
            f"a sandbox URL is http://127.0.0.1:PORT (no user, path or query), not {option!r}",
            field="--sandbox",
        )


@contextmanager
def _sandbox_url(option: str | None) -> Iterator[str | None]:
    """None without --sandbox; an embedded sandbox's URL for a bare --sandbox; else the URL given."""
    if option is None:
        yield None
        return
    if option != EMBEDDED:
        _check_sandbox_url(option)
        yield option.rstrip("/")
        return
    from lsqsf_helpers.sandbox import Sandbox

    with Sandbox() as sandbox:
        yield sandbox.url


def _check_orgs(
    org_file: Path, *, apply: bool, sandbox: str | None, json_path: str | None, audit_path: str | None = None
) -> int:
    from lsqsf_helpers import checkrun, render

    orgs = checkrun.load_and_validate(org_file, sandbox_mode=sandbox is not None)
    read_timeout = checkrun.read_timeout_from_env()
    if json_path:
        render.ensure_writable(Path(json_path), field="--json")
    audit = _audit_path(audit_path)

    def on_record(record: RunRecord) -> None:
        print(render.record_text(record), flush=True)
        if audit:
            render.append_audit(audit, record)

    with _sandbox_url(sandbox) as url:
        records = checkrun.check_orgs(
            orgs, apply=apply, sandbox_url=url, on_record=on_record, read_timeout=read_timeout
        )
    if json_path:
        render.write_atomic(Path(json_path), render.records_json(records))
    return EXIT_READY if all(r.ready for r in records) else EXIT_NOT_READY


def _cmd_check(args: argparse.Namespace) -> int:
    return _check_orgs(
        Path(args.org_file),
        apply=args.apply,
        sandbox=args.sandbox,
        json_path=args.json,
        audit_path=args.audit,
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from lsqsf_helpers import checkrun, headless

    org = headless.single_org(
        checkrun.load_and_validate(Path(args.org_file), sandbox_mode=args.sandbox is not None)
    )
    checkrun.read_timeout_from_env()  # a bad LSQSF_READ_TIMEOUT is refused here, not inside the kernel
    timeout = checked_timeout(args.timeout)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a folder", field="--out")
    audit = _audit_path(args.audit)
    with _sandbox_url(args.sandbox) as url:
        result = headless.execute(org, out, apply=args.apply, sandbox_url=url, timeout=timeout, audit=audit)
    print(f"{org.label}: {'READY' if result.ready else 'NOT READY'}", flush=True)
    for step in result.record_data.get("steps", []):
        print(f"  {step['status']:<14} {step['id']}", flush=True)
    print(f"executed notebook: {result.notebook}\nrecord: {result.record}", flush=True)
    return EXIT_READY if result.ready else EXIT_NOT_READY


def _cmd_demo(args: argparse.Namespace) -> int:
    from lsqsf_helpers import batch

    out = Path(args.out)
    print(
        f"lsqsf demo: the runbook notebook for every org of {EXAMPLES.name} against the embedded sandbox "
        f"(one practice org per scenario), {args.workers} at a time; results in {out}/\n",
        flush=True,
    )
    batch.clear_demo_output(out)  # only an earlier demo's own files
    code = _batch(EXAMPLES, out=out, sandbox=EMBEDDED, workers=args.workers, command="demo")
    if code in (EXIT_READY, EXIT_NOT_READY):
        print(
            "\nDemo done: the orgs above are the sandbox's practice orgs; exit code 1 means some are not ready.",
            flush=True,
        )
    return code


COMMANDS = {"sandbox": _cmd_sandbox, "check": _cmd_check, "run": _cmd_run, "demo": _cmd_demo}


def _cmd_train(args: argparse.Namespace) -> int:
    from lsqsf_helpers import train

    return train.serve(args.scenario, args.port, verbose=args.verbose)


COMMANDS["train"] = _cmd_train


def _cmd_report(args: argparse.Namespace) -> int:
    from lsqsf_helpers import report

    summary = report.build(Path(args.dir))
    print(summary.verdict_line(), flush=True)
    print(f"report: {summary.html_path}", flush=True)
    return EXIT_READY if summary.all_ready else EXIT_NOT_READY


COMMANDS["report"] = _cmd_report


def _batch(
    orgs_file: Path,
    *,
    out: Path,
    sandbox: str | None,
    workers: int = DEFAULT_BATCH_WORKERS,
    apply: bool = False,
    resume: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    scheduler: str | None = None,
    command: str = "batch",
    audit: str | None = None,
) -> int:
    """Validate everything (orgs file, options, DIR) before any kernel starts or any file is written."""
    from lsqsf_helpers import batch, checkrun

    orgs = checkrun.load_and_validate(orgs_file, sandbox_mode=sandbox is not None)
    checkrun.read_timeout_from_env()  # a bad LSQSF_READ_TIMEOUT is refused here, not in every kernel
    options = batch.Options(
        out=out,
        workers=workers,
        apply=apply,
        resume=resume,
        timeout=timeout,
        scheduler=scheduler,
        sandbox=sandbox is not None,
        orgs_file=orgs_file.name,
        command=command,
        audit=_audit_path(audit),
    )
    plan = batch.plan(orgs, options)
    with _sandbox_url(sandbox) as url:
        return batch.run(plan, sandbox_url=url)


def _cmd_batch(args: argparse.Namespace) -> int:
    return _batch(
        Path(args.orgs_file),
        out=Path(args.out),
        sandbox=args.sandbox,
        workers=args.workers,
        apply=args.apply,
        resume=args.resume,
        timeout=args.timeout,
        scheduler=args.scheduler,
        audit=args.audit,
    )


COMMANDS["batch"] = _cmd_batch


def _redact_log_handlers() -> None:
    """Mask every registered secret in every log line: a RedactingFilter on each root handler, once.

    Handler filters (not a logger filter) because records propagated from child loggers such as
    urllib3's skip the root logger's own filters but not its handlers'.
    """
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    _redact_log_handlers()
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"lsqsf: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Failure as exc:  # the world failed us before any org could run (e.g. no sandbox at that URL)
        print(f"lsqsf: error: {exc}", file=sys.stderr)
        return EXIT_NOT_READY
    except KeyboardInterrupt:
        print("lsqsf: interrupted", file=sys.stderr)
        return EXIT_NOT_READY
    except Exception as exc:  # the last line of defence: one line, no traceback, exit 3
        logging.getLogger(__name__).debug("internal error", exc_info=True)
        print(
            f"lsqsf: internal error: {type(exc).__name__}: {exc} (rerun with -v for details)", file=sys.stderr
        )
        return EXIT_INTERNAL
