"""Refresh the README's notebook screenshots: JupyterLab on 127.0.0.1 with a random token, Debian's
chromium driven by Playwright, the runbook run against the embedded sandbox.

    .venv/bin/python docs/make_screenshots.py      (needs: apt-get install chromium; pip install playwright)
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))  # the browser tests' JupyterLab and chromium set-up
from browserkit import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    free_port,
    lab_command,
    lab_settings,
    stop,
    wait_listening,
)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root, settings = Path(tmp) / "root", Path(tmp) / "settings"
        root.mkdir()
        shutil.copy(ROOT / "notebooks" / "runbook.ipynb", root)
        lab_settings(settings)
        port, token = free_port(), secrets.token_hex(16)
        env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings)}
        server = subprocess.Popen(
            lab_command(port, token, root), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        try:
            wait_listening(port, server)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"http://127.0.0.1:{port}/lab/tree/runbook.ipynb?token={token}")
                page.wait_for_function("window.jupyterapp !== undefined", timeout=60000)
                page.wait_for_selector(".jp-Notebook", timeout=60000)
                time.sleep(3)
                page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
                page.wait_for_selector(".lsqsf-checklist", timeout=120000)
                time.sleep(3)
                page.evaluate(
                    "document.querySelector('.lsqsf-step[data-step=install_connector]').scrollIntoView()"
                )
                time.sleep(1)
                page.screenshot(path=str(ROOT / "docs" / "img" / "notebook-steps.png"))
                page.evaluate("document.querySelector('.lsqsf-use').scrollIntoView({block: 'end'})")
                time.sleep(1)
                page.screenshot(path=str(ROOT / "docs" / "img" / "notebook-form.png"))
                browser.close()
        finally:
            stop(server)
    print("screenshots written to docs/img/")


if __name__ == "__main__":
    main()
