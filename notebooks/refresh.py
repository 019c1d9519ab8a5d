"""Re-execute notebooks/runbook.ipynb in place against the embedded sandbox, so its committed outputs
(what nbval compares and what readers see) match the code. Widget state is not stored.

    .venv/bin/python notebooks/refresh.py
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parent / "runbook.ipynb"


def main() -> None:
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", store_widget_state=False).execute(
        cwd=str(NOTEBOOK.parent)
    )
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, str(NOTEBOOK))
    print(f"refreshed {NOTEBOOK}")


if __name__ == "__main__":
    main()
