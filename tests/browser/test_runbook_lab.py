"""The runbook notebook in JupyterLab, driven as an admin would: run all, read the page, use the form.

JupyterLab runs on 127.0.0.1 with a random token, in a temporary folder holding a copy of the
runbook; the notebook's own defaults practise on the embedded sandbox's `fresh` org. The tests of
this module share one page and one kernel, in file order: each sets the settings it needs.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browserkit import (
    LOAD_TIMEOUT,
    UI_TIMEOUT,
    free_port,
    lab_command,
    lab_settings,
    listening_addresses,
    scroll_to,
    shot,
    stop,
    wait_listening,
)
from expectations import matrix
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "notebooks" / "runbook.ipynb"

FRESH = matrix()["fresh"]  # docs/steps-matrix.md, row `fresh` (check only)
LABELS = {"ok": "ok", "action_needed": "action needed", "skipped": "skipped"}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """JupyterLab on 127.0.0.1:<free port> with a random token; stopped (terminate, wait, kill) after."""
    tmp = tmp_path_factory.mktemp("lab")
    root, settings = tmp / "root", tmp / "settings"
    root.mkdir()
    shutil.copy(RUNBOOK, root / "runbook.ipynb")
    lab_settings(settings)
    port, token = free_port(), secrets.token_hex(16)
    command = lab_command(port, token, root)
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings)}
    log = (tmp / "lab.log").open("wb")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    try:
        wait_listening(port, server)
        yield {"port": port, "token": token, "command": command, "process": server}
    finally:
        stop(server)
        log.close()


@pytest.fixture(scope="module")
def page(lab: dict[str, Any], browser: Any) -> Iterator[Any]:
    """The runbook open in JupyterLab, outputs cleared, then every cell run once."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(UI_TIMEOUT)
    tab.goto(
        f"http://127.0.0.1:{lab['port']}/lab/tree/runbook.ipynb?token={lab['token']}", timeout=LOAD_TIMEOUT
    )
    tab.wait_for_function("window.jupyterapp !== undefined", timeout=LOAD_TIMEOUT)
    tab.wait_for_selector(".jp-Notebook .jp-Cell", timeout=LOAD_TIMEOUT)
    kernel = tab.evaluate(
        """async () => {
            const panel = window.jupyterapp.shell.currentWidget;
            await panel.context.ready;
            await panel.sessionContext.ready;
            return panel.sessionContext.session.kernel.name;
        }"""
    )
    assert kernel == "python3"
    tab.evaluate("window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    tab.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    # the last cell's verdict: every cell has run again
    tab.locator(".lsqsf-notice", has_text="practice: NOT READY").wait_for(timeout=LOAD_TIMEOUT)
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture(autouse=True)
def screenshot_after(request: pytest.FixtureRequest, artifacts: Path) -> Iterator[None]:
    yield
    if "page" in request.fixturenames:
        print(f"screenshot: {shot(request.getfixturevalue('page'), artifacts, f'lab-{request.node.name}')}")


def panel(page: Any, step_id: str) -> Any:
    return page.locator(f".lsqsf-step-panel-{step_id}")


def use_scenario(page: Any, name: str) -> None:
    """Pick a practice org in the form's scenario list and press "Use these settings"."""
    select = page.locator(".lsqsf-field-sandbox_scenario select")
    value = select.locator(f'option[value^="{name} \u2014"]').get_attribute("value")
    select.select_option(value=value)
    page.locator(".lsqsf-use").click()
    status = page.locator(".lsqsf-form-status")
    status.get_by_text("Settings in use for practice.").wait_for()
    page.locator(".lsqsf-checklist-summary", has_text="8 pending").wait_for()
    # each panel clears the result it showed for the old settings; wait for that too, so that the
    # next Check cannot read a stale result (each widget's update renders on its own message)
    page.locator(".lsqsf-step-panel .lsqsf-step-result .lsqsf-step").first.wait_for(state="detached")


def check(page: Any, step_id: str, expected: str) -> Any:
    """Press Check on a step and wait for its result; returns the result's element."""
    panel(page, step_id).locator(".lsqsf-check").click()
    result = panel(page, step_id).locator(f'.lsqsf-step-result .lsqsf-step[data-step="{step_id}"]')
    result.wait_for()
    assert result.get_attribute("data-status") == expected, result.inner_text()
    return result


# ----- tests ----------------------------------------------------------------------------------------------
def test_lab_listens_on_loopback_only(lab: dict[str, Any]) -> None:
    assert "--ip=127.0.0.1" in lab["command"]
    assert listening_addresses(lab["port"]) == {"127.0.0.1"}


def test_run_all_shows_every_step_and_the_checklist(page: Any) -> None:
    for step_id, status in FRESH.items():
        shown = page.locator(f'.jp-OutputArea-output > .lsqsf-step[data-step="{step_id}"]')
        if not shown.count():  # rendered HTML may sit one level deeper
            shown = page.locator(f'.jp-RenderedHTMLCommon .lsqsf-step[data-step="{step_id}"]').first
        assert shown.get_attribute("data-status") == status, step_id
        badge = panel(page, step_id).locator(".lsqsf-step-badge")
        assert badge.inner_text().strip() == LABELS[status], step_id
    remedy = page.locator('.lsqsf-step[data-step="install_connector"] .lsqsf-remedy').first
    assert remedy.is_visible()
    assert "What to do:" in remedy.inner_text() and "install it for All Users" in remedy.inner_text()

    summary = page.locator(".lsqsf-checklist-summary").inner_text()
    assert summary.strip() == "Checklist: 3 ok, 3 action needed, 2 skipped"
    rows = page.locator(".lsqsf-checklist-table tr")
    assert rows.count() == len(FRESH)
    for step_id, status in FRESH.items():
        row = page.locator(f'.lsqsf-checklist-table tr[data-step="{step_id}"]')
        assert LABELS[status] in row.inner_text(), step_id


def test_a_bad_login_is_flagged_next_to_its_field(page: Any, artifacts: Path) -> None:
    login = page.locator(".lsqsf-field-sf_login input")
    error = page.locator(".lsqsf-field-error-sf_login")
    login.fill("http://evil.example")
    login.press("Enter")
    error.get_by_text("uses http://; only https:// is accepted").wait_for()
    assert error.is_visible() and "sf_login" in error.inner_text()
    scroll_to(page, ".lsqsf-field-sf_login", offset=150)
    shot(page, artifacts, "lab-bad-login-flagged")
    login.fill("")
    login.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('.lsqsf-field-error-sf_login').innerText.trim() === ''"
    )


def test_a_sandbox_org_picked_in_the_form_is_checked(page: Any) -> None:
    use_scenario(page, "ready")
    check(page, "prerequisites", "ok")
    result = check(page, "classic_view", "ok")
    assert "uses Salesforce Classic" in result.inner_text()
    badge = panel(page, "classic_view").locator(".lsqsf-step-badge")
    expect(badge).to_have_text("ok", timeout=UI_TIMEOUT)  # waits: the badge is a widget of its own
    page.locator(".lsqsf-checklist-summary", has_text="Checklist: 2 ok, 6 pending").wait_for()


def test_apply_mode_fixes_classic_view_after_confirmation(page: Any) -> None:
    use_scenario(page, "fresh")
    check(page, "prerequisites", "ok")
    check(page, "classic_view", "action_needed")
    page.locator(".lsqsf-apply input[type=checkbox]").check()
    fix = panel(page, "classic_view").locator(".lsqsf-fix")
    fix.wait_for(state="visible")
    fix.click()
    question = panel(page, "classic_view").locator(".lsqsf-confirm-question")
    question.get_by_text("This will change the org: switch the logged-in user").wait_for()
    assert question.inner_text().strip().endswith("Continue?")
    panel(page, "classic_view").locator(".lsqsf-confirm").click()
    result = panel(page, "classic_view").locator('.lsqsf-step-result .lsqsf-step[data-status="ok"]')
    result.wait_for()
    changes = result.locator(".lsqsf-changes").inner_text()
    assert "UserPreferencesLightningExperiencePreferred: True \u2192 False" in changes
    # the badge is a widget of its own: its update may render a moment after the result's
    expect(panel(page, "classic_view").locator(".lsqsf-step-badge")).to_have_text("ok", timeout=UI_TIMEOUT)
    # the confirmation closed: waited for, since a widget's layout change renders on its own message
    panel(page, "classic_view").locator(".lsqsf-confirm-box").wait_for(state="hidden")
