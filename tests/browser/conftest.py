"""Browser tests: Debian's chromium driven by Playwright, against servers bound to 127.0.0.1 only.

No browser is ever downloaded: Playwright launches /usr/bin/chromium (CI's `.ci/run` installs it with
apt). Without it these tests fail with a message saying so; they do not skip. Screenshots land in
$LSQSF_TEST_ARTIFACTS, or in a pytest temporary folder; the folder is printed at the end of the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browserkit import CHROMIUM, CHROMIUM_ARGS

_ARTIFACTS_KEY = pytest.StashKey[Path]()


# ----- artifacts --------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def artifacts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: $LSQSF_TEST_ARTIFACTS, else a pytest temporary folder (printed at the end)."""
    chosen = os.environ.get("LSQSF_TEST_ARTIFACTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("browser-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    request.config.stash[_ARTIFACTS_KEY] = folder
    print(f"browser test artifacts: {folder}")
    return folder


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    folder = config.stash.get(_ARTIFACTS_KEY, None)
    if folder is not None:
        terminalreporter.write_line(f"browser test artifacts (screenshots): {folder}")


# ----- the browser --------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium under Playwright, headless, for the whole session."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
            "(apt-get install chromium; .ci/run does this). No browser is downloaded.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
