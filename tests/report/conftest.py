"""Fixtures for the report tests: realistic records from a sandbox check of every practice org, and
a function writing batch folders from them (see report_batches.py)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pytest
from report_batches import BATCH, ROOT, TRUNCATED, MakeBatch, Record, error_record, write_record

from lsqsf_helpers.checkrun import check_orgs, load_and_validate
from lsqsf_helpers.sandbox import Sandbox


@pytest.fixture(scope="module")
def sandbox_records(sandbox: Sandbox) -> list[Record]:
    """One realistic lsqsf.run/1 record per practice org of examples/orgs.yaml, checked (not applied)."""
    orgs = load_and_validate(ROOT / "examples" / "orgs.yaml", sandbox_mode=True)
    return [r.as_dict() for r in check_orgs(orgs, apply=False, sandbox_url=sandbox.url)]


@pytest.fixture
def make_batch(tmp_path: Path, sandbox_records: list[Record]) -> MakeBatch:
    """A function writing a batch folder: the given (default: every sandbox) records, then extras."""

    def make(
        records: Iterable[Record] | None = None,
        *,
        broken: bool = True,
        batch: Record | None = BATCH,
        name: str = "batch",
    ) -> Path:
        out = tmp_path / name
        out.mkdir()
        for record in sandbox_records if records is None else records:
            write_record(out, record)
        if broken:
            write_record(out, error_record("acme-prod", "timed out after 300 s"), notebook=False)
            write_record(out, TRUNCATED, folder="globex-uat", notebook=False)
        if batch is not None:
            (out / "batch.json").write_text(json.dumps(batch), encoding="utf-8")
        return out

    return make
