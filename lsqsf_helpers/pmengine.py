"""A papermill engine for `lsqsf batch` that saves the notebook when a code cell starts, not around every cell.

papermill's own engine writes (JSON-encodes and validates) the whole notebook at the start and the end
of every cell, markdown cells included: 46 writes for the runbook, about 85 % of the batch process's
CPU per org (measured with yappi), and every worker thread shares that CPU under the GIL. A save when
a code cell starts keeps what a hung or cancelled org needs: its notebook shows the cell it stopped
in, with every output before it. papermill still saves once when the notebook starts, every 30 s
inside a long cell, and in a `finally` when it ends, failed or not.

`lsqsf run` uses a second engine that saves only in that `finally`: its process outlives the kernel,
so that save is enough to keep a hung, crashed or interrupted run's notebook, and a finished run
costs one write more than papermill's own final one (7.5 ms; bench/bench_notebook.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

ENGINE_NAME = "lsqsf-sparse-saves"  # `lsqsf batch`: a save when each code cell starts
END_SAVES_ENGINE_NAME = "lsqsf-end-saves"  # `lsqsf run`: a save when the notebook ends only


class _SparseSaves(NotebookExecutionManager):  # type: ignore[misc]  # papermill is untyped
    """papermill's execution manager, quiet at markdown cells and at the end of each cell."""

    _quiet = False
    saves_at_code_cells = True

    @contextmanager
    def _saves_skipped(self, skip: bool = True) -> Iterator[None]:
        """Within the block, `save` does nothing when `skip`; afterwards it saves again."""
        self._quiet = skip
        try:
            yield
        finally:
            self._quiet = False

    def cell_start(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
        with self._saves_skipped(cell.get("cell_type") != "code" or not self.saves_at_code_cells):
            super().cell_start(cell, cell_index, **kwargs)

    def cell_complete(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
        with self._saves_skipped():  # the next code cell's start, or the final save, writes these outputs
            super().cell_complete(cell, cell_index, **kwargs)

    def save(self, **kwargs: Any) -> None:
        if not self._quiet:
            super().save(**kwargs)


class _EndSaves(_SparseSaves):
    """papermill's execution manager that saves only when the notebook ends, finished or not."""

    saves_at_code_cells = False

    def notebook_start(self, **kwargs: Any) -> None:
        with self._saves_skipped():
            super().notebook_start(**kwargs)


class SparseSaveEngine(NBClientEngine):  # type: ignore[misc]  # papermill is untyped
    """nbclient execution, as papermill's default engine, with `_SparseSaves` as the manager."""

    manager: type[NotebookExecutionManager] = _SparseSaves

    @classmethod
    def execute_notebook(
        cls,
        nb: Any,
        kernel_name: str,
        output_path: str | None = None,
        progress_bar: bool = True,
        log_output: bool = False,
        autosave_cell_every: int = 30,
        **kwargs: Any,
    ) -> Any:
        nb_man = cls.manager(
            nb,
            output_path=output_path,
            progress_bar=progress_bar,
            log_output=log_output,
            autosave_cell_every=autosave_cell_every,
        )
        nb_man.notebook_start()
        try:
            cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
        finally:
            nb_man.cleanup_pbar()
            nb_man.notebook_complete()
        return nb_man.nb


class EndSaveEngine(SparseSaveEngine):
    """The same, with `_EndSaves` as the manager."""

    manager = _EndSaves


def register() -> str:
    """Make the batch's engine known to papermill here (idempotent); its name for `engine_name`."""
    papermill_engines.register(ENGINE_NAME, SparseSaveEngine)
    return ENGINE_NAME


def register_end_saves() -> str:
    """Make `lsqsf run`'s engine known to papermill here (idempotent); its name for `engine_name`."""
    papermill_engines.register(END_SAVES_ENGINE_NAME, EndSaveEngine)
    return END_SAVES_ENGINE_NAME
