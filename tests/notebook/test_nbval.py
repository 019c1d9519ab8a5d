"""nbval on the committed runbook notebook: re-executed against the embedded sandbox, every output
must match what is committed (volatile values masked by notebooks/nbval-sanitize.cfg)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_committed_notebook_outputs_match_a_fresh_run() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval",
            "--nbval-current-env",
            "--nbval-sanitize-with",
            "notebooks/nbval-sanitize.cfg",
            "-p",
            "no:cacheprovider",
            "-q",
            "notebooks/runbook.ipynb",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " failed" not in result.stdout


def test_committed_notebook_has_outputs_and_no_widget_state() -> None:
    import nbformat

    nb = nbformat.read(str(ROOT / "notebooks" / "runbook.ipynb"), as_version=4)
    assert "widgets" not in nb.metadata
    code = [c for c in nb.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]
    assert code and all(c.outputs for c in code), (
        "the committed notebook reads as documentation: run it first"
    )
