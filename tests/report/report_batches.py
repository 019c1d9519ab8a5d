"""Batch folders for the report tests (helpers; the fixtures are in conftest.py): realistic records from a sandbox check of every practice org,
plus a hand-made error record, a half-written one, notebooks and batch.json, as the batch runner
leaves them (DIR/<org>/record.json, DIR/<org>/notebook.ipynb, DIR/batch.json)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
Record = dict[str, Any]
MakeBatch = Callable[..., Path]

BATCH = {
    "schema": "lsqsf.batch/1",
    "started": "2026-12-03T09:00:00+00:00",
    "finished": "2026-12-03T09:05:12+00:00",
    "duration": 312.4,
    "mode": "check",
    "workers": 4,
    "scheduler": None,
    "orgs_file": "examples/orgs.yaml",
    "lsqsf_version": "0.1.0",
    "sandbox": True,
    "interrupted": False,
    "not_finished": [],
}
# What a record whose writer was killed mid-way looks like: valid up to a point, then nothing.
TRUNCATED = '{"schema": "lsqsf.run/1", "org": "globex-uat", "mode": "check", "steps": [{"id": "prereq'


def error_record(org: str, error: str) -> Record:
    """A record for an org that crashed, timed out or had bad input: error set, no steps."""
    return {
        "schema": "lsqsf.run/1",
        "lsqsf_version": "0.1.0",
        "org": org,
        "mode": "check",
        "started": "2026-12-03T09:00:04+00:00",
        "duration": 300.0,
        "ready": False,
        "counts": {"ok": 0, "action_needed": 0, "failed": 0, "manual": 0, "skipped": 0},
        "sandbox_scenario": None,
        "http_calls": {},
        "error": error,
        "steps": [],
    }


def write_record(
    out: Path, record: Record | str, *, folder: str | None = None, notebook: bool = True
) -> Path:
    """DIR/<folder>/record.json (a dict as JSON, a str as is) and, optionally, a stand-in notebook."""
    name = folder or (record["org"] if isinstance(record, dict) else "org")
    target = out / name
    target.mkdir(parents=True, exist_ok=True)
    text = record if isinstance(record, str) else json.dumps(record, indent=2)
    (target / "record.json").write_text(text, encoding="utf-8")
    if notebook:
        (target / "notebook.ipynb").write_text('{"cells": [], "nbformat": 4, "nbformat_minor": 5}')
    return target
