"""`lsqsf train`: the runbook notebook as a trainee app, served by Voilà on 127.0.0.1 only.

Voilà shows the notebook's outputs and widgets with the code hidden. Each browser tab gets its own
kernel, and with it its own embedded sandbox (the notebook's default ``sandbox = "embedded"``), so
trainees cannot disturb each other's practice orgs. ``--scenario`` sets the practice org the page
opens with; the trainee switches orgs in the form's *Sandbox scenario* list.

The app is served from a private temporary folder (mode 700): a copy of the runbook with the
scenario injected in a cell after the parameters cell (as papermill does), and a ``voila.json`` holding a random token for
this run only. The token never appears on a command line (other local users can read those) and is
printed in the URL to the terminal only; the folder is removed when the app stops. The token guards
the app even on loopback: Voilà accepts any Host header, so without one a web page open in the
trainee's browser could reach the app's kernels through DNS rebinding.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from lsqsf_helpers.errors import Failure, UsageError

log = logging.getLogger(__name__)

RUNBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "runbook.ipynb"
LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8866  # Voilà's own default
DEFAULT_SCENARIO = "fresh"
NOTEBOOK_NAME = "training.ipynb"
START_TIMEOUT = 120.0  # seconds for Voilà to listen (a cold start on 2 busy cores takes a while)
STOP_TIMEOUT = 20.0  # seconds for Voilà to shut its kernels down before it is killed

TRAINEE_NOTE = """\
## Practice mode

You are practising on a **sandbox**: a local stand-in for Salesforce and LeadSquared with practice
orgs, each with something left undone or broken on purpose. Nothing here reaches a real org.

1. At the bottom of the form, pick a practice org under **Sandbox scenario** and press
   **Use these settings**. Every step goes back to *pending*.
2. Press **Check** on each step, top to bottom (a step waits for the ones it depends on): read the
   status, the message and *What to do*. The checklist under the form keeps count.
3. Tick **Apply mode** to get **Fix** buttons for what the APIs can fix; each asks before it changes
   anything, and checks the step again afterwards.

Reload the page to start over with a fresh sandbox.
"""
# In the trainee's copy, each step's result is shown inside its panel, so that no result of an
# earlier practice org is left on the page when the trainee picks another one.
STEP_CELL = re.compile(r'run\.step\("([a-z_]+)"\)')
FINISH_CELL = "run.finish()"


def scenario_names() -> list[str]:
    from lsqsf_helpers.sandbox.scenarios import SCENARIOS

    return list(SCENARIOS)


def check_scenario(name: str) -> str:
    if name not in scenario_names():
        raise UsageError(
            f"unknown scenario {name!r}", field="--scenario", remedy=f"one of: {', '.join(scenario_names())}"
        )
    return name


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _cell(cell_type: str, source: str, tags: list[str] | None = None) -> dict[str, Any]:
    cell: dict[str, Any] = {
        "cell_type": cell_type,
        "id": uuid.uuid4().hex[:12],
        "metadata": {"tags": tags} if tags else {},
        "source": source,
    }
    if cell_type == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def _for_trainees(cells: list[dict[str, Any]]) -> None:
    """Step cells show their result in the step's panel; the summary is the live checklist."""
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = _source(cell).strip()
        found = STEP_CELL.fullmatch(source)
        if found:
            step_id = found.group(1)
            cell["source"] = (
                f'from lsqsf_helpers import ui\n\nrun.check("{step_id}")\n'
                f'ui.step_panel(run, "{step_id}", show_result=True)'
            )
        elif source == FINISH_CELL:
            cell["source"] = "from lsqsf_helpers import ui\n\nui.checklist(run)"


def _inject(cells: list[dict[str, Any]], parameters: dict[str, object]) -> None:
    """A code cell setting these names, right after the parameters cell (as papermill injects one)."""
    lines = ["# lsqsf train: practice org and run options", *(f"{k} = {v!r}" for k, v in parameters.items())]
    tagged = [i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    cells.insert(tagged[0] + 1 if tagged else 0, _cell("code", "\n".join(lines), ["injected-parameters"]))


def training_notebook(scenario: str, folder: Path, source: Path = RUNBOOK) -> Path:
    """Write the trainee's copy of the runbook into folder: no outputs, the scenario injected.

    Plain JSON editing (nbformat 4.5), because importing nbformat costs seconds at every start.
    """
    check_scenario(scenario)
    nb = json.loads(source.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    nb["metadata"].pop("widgets", None)
    _for_trainees(nb["cells"])
    parameters = {
        "sandbox_scenario": scenario,
        "sandbox": "embedded",
        "interactive": True,
        "apply": False,
        "record_path": "",
    }
    _inject(nb["cells"], parameters)
    nb["cells"].insert(1, _cell("markdown", TRAINEE_NOTE))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / NOTEBOOK_NAME
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def voila_command(notebook: Path, port: int) -> list[str]:
    """The Voilà command line: loopback only, one fixed port, sources stripped, no tracebacks shown."""
    return [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        "--no-browser",
        f"--Voila.ip={LOOPBACK}",
        f"--Voila.port={port}",
        "--Voila.port_retries=0",
        f"--Voila.root_dir={notebook.parent}",
        "--VoilaConfiguration.strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
    ]


def write_config(folder: Path, token: str) -> Path:
    """voila.json with this run's token, readable by this user only (Voilà reads it from its cwd)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "voila.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"Voila": {"token": token}}, handle)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def check_port(port: int) -> int:
    """0 picks a free port; anything else must be a port number that is free on 127.0.0.1."""
    if not 0 <= port <= 65535:
        raise UsageError("must be from 0 to 65535", field="--port")
    if port == 0:
        return free_port()
    with socket.socket() as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError as exc:
            raise UsageError(f"cannot listen on {LOOPBACK}:{port} ({exc.strerror})", field="--port") from None
    return port


def _listening(port: int) -> bool:
    try:
        socket.create_connection((LOOPBACK, port), timeout=0.5).close()
    except OSError:
        return False
    return True


@dataclass
class App:
    """A running Voilà app: its process, its URL (with the token: print it, never store it)."""

    process: subprocess.Popen[bytes]
    port: int
    url: str
    log_path: Path

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM (Voilà shuts its kernels down), then SIGKILL if it does not end in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("Voilà did not stop within %.0f s; killing it", timeout)
                self.process.kill()
                self.process.wait(timeout)
        return int(self.process.returncode)


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@contextmanager
def running(
    scenario: str,
    port: int,
    *,
    verbose: bool = False,
    start_timeout: float = START_TIMEOUT,
    stop: threading.Event | None = None,
) -> Iterator[App]:
    """Voilà serving the trainee's notebook on 127.0.0.1:port, stopped and cleaned up on exit.

    `stop`, once set while Voilà is starting, gives up waiting (KeyboardInterrupt).
    """
    check_scenario(scenario)
    if importlib.util.find_spec("voila") is None:
        raise UsageError(
            "Voilà is not installed",
            field="train",
            remedy="install the requirements: pip install -r requirements.txt",
        )
    port = check_port(port)
    folder = Path(tempfile.mkdtemp(prefix="lsqsf-train-"))  # mode 700: this user only
    try:
        notebook = training_notebook(scenario, folder / "app")
        token = secrets.token_urlsafe(24)
        write_config(folder / "config", token)
        log_path = folder / "voila.log"
        with open(log_path, "wb") as log_file:
            process = subprocess.Popen(
                voila_command(notebook, port),
                cwd=folder / "config",
                stdin=subprocess.DEVNULL,
                stdout=None if verbose else log_file,
                stderr=None if verbose else subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches lsqsf, which stops Voilà in order
            )
        app = App(process, port, f"http://{LOOPBACK}:{port}/?token={token}", log_path)
        try:
            deadline = time.monotonic() + start_timeout
            while not _listening(port):
                if stop is not None and stop.is_set():
                    raise KeyboardInterrupt
                if process.poll() is not None:
                    raise Failure(
                        f"Voilà stopped before serving (exit code {process.returncode})\n{_log_tail(log_path)}",
                        remedy="rerun with -v to see Voilà's log",
                    )
                if time.monotonic() > deadline:
                    raise Failure(
                        f"Voilà did not listen on {LOOPBACK}:{port} within {start_timeout:.0f} s",
                        remedy="rerun with -v to see Voilà's log",
                    )
                time.sleep(0.2)
            yield app
        finally:
            app.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def serve(
    scenario: str = DEFAULT_SCENARIO,
    port: int = DEFAULT_PORT,
    *,
    verbose: bool = False,
    out: TextIO | None = None,
) -> int:
    """`lsqsf train`: serve until Ctrl-C or SIGTERM; 0 after a clean stop, 1 if Voilà died on its own."""
    stream = out or sys.stdout
    check_scenario(scenario)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with running(scenario, port, verbose=verbose, stop=stop) as app:
            print(
                f"lsqsf train: the runbook for trainees, practising on the sandbox's {scenario!r} org",
                file=stream,
            )
            print(f"  open {app.url}", file=stream)
            print(
                f"  listening on {LOOPBACK}:{app.port} only; every browser tab gets its own sandbox",
                file=stream,
            )
            print("Stop with Ctrl-C.", file=stream, flush=True)
            while not stop.wait(0.5):
                if app.process.poll() is not None:
                    print(
                        f"lsqsf train: Voilà stopped on its own (exit code {app.process.returncode})\n"
                        f"{_log_tail(app.log_path)}",
                        file=sys.stderr,
                        flush=True,
                    )
                    return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("lsqsf train stopped.", file=stream, flush=True)
    return 0


__all__ = ["App", "running", "serve", "training_notebook", "voila_command"]
