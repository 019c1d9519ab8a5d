"""`lsqsf train`: the trainee app served by Voilà, driven in the browser as a trainee would.

`lsqsf train --port <free>` runs as a subprocess, exactly as a trainer starts it. The tests of this
module share that one app, in file order; the last one stops it with SIGTERM.

The screenshot `train.png` this module saves is the README's docs/img/train.png:

    LSQSF_TEST_ARTIFACTS=/tmp/shots .venv/bin/python -m pytest tests/browser/test_train_app.py
    cp /tmp/shots/train.png docs/img/train.png
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from browserkit import (
    LOAD_TIMEOUT,
    LOOPBACK,
    START_TIMEOUT,
    STOP_TIMEOUT,
    UI_TIMEOUT,
    Output,
    alive,
    children,
    command_line,
    free_port,
    listening_addresses,
    scroll_to,
    shot,
    stop,
)
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
LSQSF = Path(sys.executable).parent / "lsqsf"
# docs/steps-matrix.md, row `lightning` (check only)
LIGHTNING = {
    "prerequisites": "ok",
    "install_connector": "ok",
    "classic_view": "action_needed",
    "remote_site": "ok",
    "leadsquared_keys": "ok",
    "connector_auth": "skipped",
    "api_access": "ok",
    "next_steps": "skipped",
}
SKIP_DIRS = {".venv", ".git", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache", "lsqsf.egg-info"}


def non_loopback_address() -> str | None:
    """This machine's address on its default route, if it has one (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere
        except OSError:
            return None
        address = str(sock.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.fixture(scope="module")
def app() -> Iterator[dict[str, Any]]:
    """`lsqsf train --port <free>` (default scenario `fresh`), stopped with SIGTERM at the end."""
    port = free_port()
    command = [str(LSQSF), "train", "--port", str(port)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    output = Output(process)
    try:
        url = output.wait_for(r"open (http://\S+)", START_TIMEOUT).group(1)
        yield {"port": port, "url": url, "process": process, "output": output}
    finally:
        stop(process)


@pytest.fixture(scope="module")
def page(app: dict[str, Any], browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(UI_TIMEOUT)
    # Voilà sends the page while the notebook runs: wait for the last step's panel, not for "load"
    tab.goto(app["url"], wait_until="commit", timeout=LOAD_TIMEOUT)
    tab.locator(".lsqsf-step-panel-next_steps .lsqsf-check").wait_for(timeout=LOAD_TIMEOUT)
    try:
        yield tab
    finally:
        context.close()


def panel(page: Any, step_id: str) -> Any:
    return page.locator(f".lsqsf-step-panel-{step_id}")


def check(page: Any, step_id: str, expected: str) -> Any:
    panel(page, step_id).locator(".lsqsf-check").click()
    result = panel(page, step_id).locator(f'.lsqsf-step-result .lsqsf-step[data-step="{step_id}"]')
    result.wait_for()
    assert result.get_attribute("data-status") == expected, result.inner_text()
    return result


# ----- tests ----------------------------------------------------------------------------------------------
def test_the_app_listens_on_loopback_only(app: dict[str, Any]) -> None:
    parts = urlsplit(app["url"])
    assert parts.hostname == LOOPBACK and parts.port == app["port"]
    assert listening_addresses(app["port"]) == {LOOPBACK}
    (voila,) = children(app["process"].pid)
    assert f"--Voila.ip={LOOPBACK}" in command_line(voila)
    address = non_loopback_address()
    if address is not None:  # the same port on this machine's network address answers nothing
        with pytest.raises(OSError):
            socket.create_connection((address, app["port"]), timeout=2).close()


def test_the_token_is_printed_only(app: dict[str, Any]) -> None:
    (token,) = parse_qs(urlsplit(app["url"]).query)["token"]
    assert len(token) >= 24
    for pid in (app["process"].pid, *children(app["process"].pid)):
        assert not any(token in arg for arg in command_line(pid)), "the token is on a command line"
    for path in ROOT.rglob("*"):
        if SKIP_DIRS.intersection(path.relative_to(ROOT).parts) or not path.is_file():
            continue
        if path.stat().st_size < 5_000_000:
            assert token.encode() not in path.read_bytes(), f"the token was written to {path}"


def test_the_app_needs_its_token(app: dict[str, Any]) -> None:
    import requests

    bare = f"http://{LOOPBACK}:{app['port']}/"
    answer = requests.get(bare, allow_redirects=False, timeout=30)
    assert answer.status_code in (302, 403) and "lsqsf-form" not in answer.text


def test_a_trainee_picks_a_practice_org_and_checks_a_step(page: Any, artifacts: Path) -> None:
    # the app opens on the default practice org, every step checked, the code hidden
    summaries = page.locator(".lsqsf-checklist-summary")  # under the form, and the summary at the end
    assert summaries.count() == 2
    assert summaries.all_inner_texts() == ["Checklist: 3 ok, 3 action needed, 2 skipped"] * 2
    install = panel(page, "install_connector").locator(".lsqsf-step-result .lsqsf-step")
    assert install.get_attribute("data-status") == "action_needed"
    assert "install it for All Users" in install.locator(".lsqsf-remedy").inner_text()
    body = page.locator("body").inner_text()
    assert "runbook.start_from" not in body and "run.check(" not in body and "sandbox_scenario =" not in body

    select = page.locator(".lsqsf-field-sandbox_scenario select")
    labels = select.locator("option").all_inner_texts()
    assert any(
        label.replace("\xa0", " ").startswith("lightning \u2014 Connector installed") for label in labels
    )
    value = select.locator('option[value^="lightning \u2014"]').get_attribute("value")
    select.select_option(value=value)
    page.locator(".lsqsf-use").click()
    page.locator(".lsqsf-form-status").get_by_text("Settings in use for practice.").wait_for()
    summaries.first.get_by_text("8 pending").wait_for()
    # no result of the old org stays (waited for: each panel's update renders on its own message)
    page.locator(".lsqsf-step-result .lsqsf-step").first.wait_for(state="detached")

    check(page, "prerequisites", "ok")
    result = check(page, "classic_view", "action_needed")
    assert "uses Lightning Experience" in result.inner_text()
    assert "What to do:" in result.locator(".lsqsf-remedy").inner_text()
    badge = panel(page, "classic_view").locator(".lsqsf-step-badge")
    expect(badge).to_have_text("action needed", timeout=UI_TIMEOUT)  # waits: the badge is a widget of its own
    summaries.first.get_by_text("Checklist: 1 ok, 1 action needed, 6 pending").wait_for()

    # the rest of the steps, as the trainee goes on (docs/steps-matrix.md, row `lightning`)
    for step_id, status in LIGHTNING.items():
        if step_id not in ("prerequisites", "classic_view"):
            check(page, step_id, status)
    summaries.first.get_by_text("Checklist: 5 ok, 1 action needed, 2 skipped").wait_for()

    # the README's screenshot: the practice org picked, the checklist following the checks
    scroll_to(page, ".lsqsf-field-sandbox_scenario", offset=40)
    print(f"screenshot: {shot(page, artifacts, 'train', height=690)}")
    scroll_to(page, ".lsqsf-step-panel-classic_view", offset=300)
    print(f"screenshot: {shot(page, artifacts, 'train-classic-view')}")


def test_sigterm_stops_the_app_and_its_kernels(app: dict[str, Any], page: Any) -> None:
    # `page`: the open page holds a kernel, which must stop with the app
    process = app["process"]
    (voila,) = children(process.pid)
    kernels = children(voila)
    assert kernels, "the page's kernel runs under Voilà"
    assert stop(process) == 0
    app["output"].thread.join(10)
    assert "lsqsf train stopped." in app["output"].text
    assert not alive(voila)
    deadline = time.monotonic() + STOP_TIMEOUT
    while any(alive(pid) for pid in kernels) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(pid) for pid in kernels), "a kernel outlived the app"
    assert listening_addresses(app["port"]) == set()
