"""Refresh the README's notebook screenshots: JupyterLab on 127.0.0.1 with a random token, Debian's
chromium driven by Playwright, the runbook run against the embedded sandbox.

    .venv/bin/python docs/make_screenshots.py      (needs: apt-get install chromium; pip install playwright)
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root, settings = Path(tmp) / "root", Path(tmp) / "settings" / "@jupyterlab" / "apputils-extension"
        root.mkdir()
        settings.mkdir(parents=True)
        shutil.copy(ROOT / "notebooks" / "runbook.ipynb", root)
        (settings / "notification.jupyterlab-settings").write_text(
            '{"fetchNews": "false", "checkForUpdates": false}'
        )
        port, token = free_port(), secrets.token_hex(16)
        env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings.parents[1])}
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "jupyter"),
                "lab",
                "--no-browser",
                "--ip=127.0.0.1",
                f"--port={port}",
                f"--IdentityProvider.token={token}",
                "--ServerApp.port_retries=0",
                "--LabApp.expose_app_in_browser=True",
                f"--ServerApp.root_dir={root}",
                "--allow-root",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        try:
            for _ in range(150):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.2)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
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
            server.terminate()
            server.wait(10)
    print("screenshots written to docs/img/")


if __name__ == "__main__":
    main()
