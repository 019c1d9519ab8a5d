"""A deadline per org run: the thread that stops the org's kernel when it runs too long or is cancelled.

`lsqsf run` and `lsqsf batch` share it, so one slow vendor ends the same way in both: papermill's call
returns within a second with DeadKernelError, and the run's notebook shows the cell it stopped in.

The kernel manager it hands papermill also picks the kernel's transport. On POSIX systems the kernel
talks over Unix sockets in a folder private to this user (0700, removed afterwards) instead of five
loopback TCP ports that any local user could connect to (messages are signed, not encrypted), and
ipykernel's warning about unencrypted TCP, printed by every `lsqsf run`, has nothing to warn about.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from lsqsf_helpers.errors import UsageError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 900.0  # seconds per org; an install polls for minutes at most
MAX_TIMEOUT = 86400.0
TICK = 0.25  # seconds between looks at the deadline and the operator's wishes

Check = Callable[[], bool]


def never() -> bool:
    return False


def checked_timeout(seconds: float, *, field: str = "--timeout") -> float:
    """`seconds` if it is a usable deadline (finite, above 0, at most a day), else a UsageError."""
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_TIMEOUT):
        raise UsageError(f"must be a number of seconds above 0 and at most {MAX_TIMEOUT:g}", field=field)
    return seconds


class Watchdog:
    """Stops the org's kernel when the org passes its deadline or `cancel()` turns true.

    papermill creates the kernel manager itself; `manager_class()` gives it a subclass that hands
    each new manager to the watchdog, which can then kill that kernel's process from its own thread.
    The papermill call then ends within a second with DeadKernelError. `reason` says why it acted.
    """

    def __init__(self, timeout: float, cancel: Check = never) -> None:
        self.deadline = time.monotonic() + timeout
        self.reason = ""  # "" | "timeout" | "cancelled"
        self._cancel = cancel
        self._managers: list[Any] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="lsqsf-watchdog", daemon=True)
        self._sockets: str | None = None  # the private folder of the kernels' Unix sockets
        self._kernels = itertools.count(1)

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)
        if self._sockets is not None:  # a killed kernel leaves its socket files behind
            shutil.rmtree(self._sockets, ignore_errors=True)

    def _socket_prefix(self) -> str:
        """A fresh path prefix for one kernel's sockets, in a folder only this user can enter."""
        with self._lock:
            if self._sockets is None:
                self._sockets = tempfile.mkdtemp(prefix="lsqsf-kernel-")  # 0700
            return os.path.join(self._sockets, f"k{next(self._kernels)}")

    def manager_class(self) -> type[Any]:
        from jupyter_client.manager import AsyncKernelManager

        watchdog = self

        class OrgKernelManager(AsyncKernelManager):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                if os.name == "posix":  # zmq has no Unix sockets on Windows
                    kwargs.setdefault("transport", "ipc")
                    kwargs.setdefault("ip", watchdog._socket_prefix())
                super().__init__(*args, **kwargs)
                with watchdog._lock:
                    watchdog._managers.append(self)

        return OrgKernelManager

    def _cancelled(self) -> bool:
        try:
            return bool(self._cancel())
        except Exception:  # e.g. a Dask scheduler that went away: keep going rather than guess
            return False

    def _watch(self) -> None:
        while not self._done.wait(TICK):
            if not self.reason:
                if time.monotonic() >= self.deadline:
                    self.reason = "timeout"
                elif self._cancelled():
                    self.reason = "cancelled"
            if self.reason:
                self._kill()

    def _kill(self) -> None:
        with self._lock:
            managers = list(self._managers)
        for manager in managers:
            process = getattr(getattr(manager, "provisioner", None), "process", None)
            if process is not None and process.poll() is None:
                log.info("stopping a kernel (%s)", self.reason)
                process.kill()
