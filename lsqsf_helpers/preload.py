"""Headless kernels only: import the runbook's modules while the kernel would otherwise sit idle.

`lsqsf run` starts its kernel with this module as an IPython extension (`headless.KERNEL_ARGUMENTS`).
Once a new kernel answers kernel_info, jupyter_client waits 0.2 s for its IOPub channel to fall quiet
before papermill sends the first cell. A daemon thread started here spends that wait importing
`lsqsf_helpers.notebook` (simple-salesforce with zeep, requests, jwt: about 0.25 s of a 0.3 s setup
cell), so the setup cell's own import finds the module loaded, or waits on Python's import lock for
the rest. Nothing else runs here and nothing depends on it: if the import fails, the setup cell
imports the module again and shows the error in the notebook, where it belongs. JupyterLab kernels
do not load this extension.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

MODULE = "lsqsf_helpers.notebook"


def _import() -> None:
    try:
        importlib.import_module(MODULE)
    except Exception:  # the setup cell imports it again and shows the error
        return


def load_ipython_extension(ipython: Any) -> None:
    """IPython's extension hook: start the import and return at once."""
    threading.Thread(target=_import, name="lsqsf-preload", daemon=True).start()
