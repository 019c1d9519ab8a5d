"""`lsqsf sandbox` as a real process (address printed, control API up, clean stop on SIGTERM and
SIGINT), its refusals, and `lsqsf demo`."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from lsqsf_helpers.cli import main
from lsqsf_helpers.leadsquared import LeadSquaredClient
from lsqsf_helpers.sandbox import SandboxBindError, scenarios
from lsqsf_helpers.sandbox.app import SandboxApp
from lsqsf_helpers.sandbox.server import SandboxHTTPServer

ROOT = Path(__file__).resolve().parents[1]
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:(\d+))")


def start_sandbox(*args: str) -> tuple[subprocess.Popen[str], str, list[str]]:
    """`python -m lsqsf_helpers sandbox ...` started; its URL and its banner, read up to "Stop with Ctrl-C."
    (read here, line by line: `communicate()` later reads the pipe's file descriptor, not this buffer)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "lsqsf_helpers", "sandbox", *args],
        cwd=ROOT,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    url = ""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        found = LISTENING.search(line)
        url = found.group(1) if found else url
        if url and line.startswith("Stop with Ctrl-C"):
            return process, url, lines
    process.kill()
    _, err = process.communicate(timeout=5)
    raise AssertionError(f"the sandbox printed no address: {''.join(lines)}{err}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sandbox_process_serves_and_stops_cleanly(signum: signal.Signals) -> None:
    process, url, lines = start_sandbox("--port", "0", "--scenario", "ready")
    try:
        assert int(url.rsplit(":", 1)[1]) > 0  # --port 0: a free port was chosen and printed
        orgs = requests.get(f"{url}/_sandbox/orgs", timeout=5).json()["orgs"]
        assert [org["org"] for org in orgs] == ["ready"]
        process.send_signal(signum)
        out, err = process.communicate(timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=5)
    assert process.returncode == 0, err
    printed = "".join(lines) + out
    assert "ready" in printed
    assert "stopped" in out
    assert "Traceback" not in err
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/_sandbox/orgs", timeout=2)


def test_unknown_scenario_exits_2_naming_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "--port", "0", "--scenario", "nope"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("lsqsf: error: --scenario")
    assert "'nope'" in err
    for name in scenarios.SCENARIOS:
        assert name in err
    assert len(err.splitlines()) <= 2


def test_port_out_of_range_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err


def test_the_sandbox_refuses_to_listen_beyond_loopback() -> None:
    app = SandboxApp(["ready"])
    with pytest.raises(SandboxBindError, match=r"127\.0\.0\.1"):
        SandboxHTTPServer(app, host="0.0.0.0")


def test_demo_exits_1_and_prints_every_practice_org(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # the rate-limited org backs off on purpose; cap the waits (not the number of tries)
    monkeypatch.setitem(LeadSquaredClient.__init__.__kwdefaults__, "wait_max", 0.05)
    monkeypatch.delenv("LSQSF_READ_TIMEOUT", raising=False)
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 1
    out, err = capsys.readouterr()
    for name in scenarios.SCENARIOS:
        assert re.search(rf"^{re.escape(name)} \(check\): (READY|NOT READY)$", out, re.M), name
    assert re.search(r"^ready \(check\): READY$", out, re.M)
    assert "Demo done" in out
    assert f"Report: {(tmp_path / 'demo' / 'report.html').resolve()}" in out
    assert "Traceback" not in out + err


def test_check_against_a_sandbox_that_is_not_running_exits_1_in_one_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    org_file = tmp_path / "org.yaml"
    org_file.write_text(
        "org: ready\nsandbox_scenario: ready\nconnector: {package_version_id: 04tFAKE0LSQ0001, namespace: lsqfake}\n"
    )
    code = main(
        ["check", str(org_file), "--sandbox", f"http://127.0.0.1:{port}", "--json", str(tmp_path / "r.json")]
    )
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert err.startswith(f"lsqsf: error: the sandbox at http://127.0.0.1:{port} did not list its orgs")
    assert "lsqsf sandbox" in err  # the remedy: start one
    assert "internal error" not in err and "Traceback" not in err
    assert len(err.splitlines()) == 2
    assert not (tmp_path / "r.json").exists()
