"""Helpers of the browser tests: ports, processes, listening addresses, screenshots."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT = 120.0  # seconds for a server to listen (2 busy cores)
UI_TIMEOUT = 60_000  # milliseconds for the page to show what a test waits for
LOAD_TIMEOUT = 180_000  # milliseconds for a page to load and run the whole notebook (a kernel start included)
STOP_TIMEOUT = 20.0  # seconds for a server to stop before it is killed
LOOPBACK = "127.0.0.1"


# ----- processes and ports ------------------------------------------------------------------------------
def lab_settings(settings: Path) -> None:
    """JupyterLab user settings for unattended runs: no news or update check (no network, no pop-up),
    and every cell kept in the page (the notebook's windowing would drop cells scrolled out of view)."""
    for plugin, content in {
        "apputils-extension/notification": '{"fetchNews": "false", "checkForUpdates": false}',
        "notebook-extension/tracker": '{"windowingMode": "none"}',
    }.items():
        path = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def lab_command(port: int, token: str, root: Path) -> list[str]:
    """JupyterLab of this venv on 127.0.0.1:`port` only, with `token`, serving `root`."""
    return [
        str(Path(sys.executable).parent / "jupyter"),
        "lab",
        "--no-browser",
        f"--ip={LOOPBACK}",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        "--ServerApp.port_retries=0",
        "--LabApp.expose_app_in_browser=True",
        f"--ServerApp.root_dir={root}",
        "--allow-root",
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[Any], timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the server exited early with code {process.returncode}"
        try:
            socket.create_connection((LOOPBACK, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listened on {LOOPBACK}:{port} within {timeout:.0f} s")


def stop(process: subprocess.Popen[Any], sig: int = signal.SIGTERM) -> int:
    """Ask the process to stop; kill it if it does not within STOP_TIMEOUT."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)
    return int(process.returncode)


def _hex_address(hex_addr: str) -> str:
    """An address of /proc/net/tcp or tcp6 (little-endian hex words) in its usual notation."""
    raw = bytes.fromhex(hex_addr)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if len(words) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, words)


def listening_addresses(port: int) -> set[str]:
    """Every local address a TCP socket LISTENs on at this port (Linux, from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(_hex_address(address))
    return found


def shot(page: Any, artifacts: Path, name: str, height: int | None = None) -> Path:
    """A screenshot of the viewport (its top `height` pixels if given) into the artifacts folder."""
    path = artifacts / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    clip = None
    if height is not None:
        clip = {"x": 0, "y": 0, "width": page.viewport_size["width"], "height": height}
    page.screenshot(path=str(path), clip=clip)
    return path


def scroll_to(page: Any, selector: str, offset: int = 0) -> None:
    """Scroll the element to the top of its scrolling container, `offset` pixels lower down."""
    page.evaluate(
        """([selector, offset]) => {
            const element = document.querySelector(selector);
            element.scrollIntoView({block: 'start'});
            let box = element.parentElement;
            while (box && !(box.scrollHeight > box.clientHeight
                             && ['auto', 'scroll'].includes(getComputedStyle(box).overflowY))) {
                box = box.parentElement;
            }
            (box || document.scrollingElement).scrollBy(0, -offset);
        }""",
        [selector, offset],
    )


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (Linux /proc)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class Output:
    """A process's stdout, read line by line in a thread (so the pipe never fills up)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        with self.changed:
            found: list[re.Match[str]] = []

            def seen() -> bool:
                found[:] = [m for line in self.lines if (m := re.search(pattern, line))]
                return bool(found)

            assert self.changed.wait_for(seen, timeout), f"no {pattern!r} in {self.lines}"
            return found[0]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def children(pid: int) -> list[int]:
    """The process's direct children (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(child) for child in text]
    return found


def command_line(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_text().split("\0")[:-1]
