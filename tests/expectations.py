"""What the tests expect of every practice org, read from docs/steps-matrix.md (the one source)."""

from __future__ import annotations

from pathlib import Path

MATRIX = Path(__file__).resolve().parents[1] / "docs" / "steps-matrix.md"


def matrix() -> dict[str, dict[str, str]]:
    """docs/steps-matrix.md as {scenario: {step: status}}, for `lsqsf check` (check only)."""
    rows: dict[str, dict[str, str]] = {}
    header: list[str] = []
    for line in MATRIX.read_text().splitlines():
        if not line.startswith("|") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == "scenario":
            header = cells[1:]
        else:
            rows[cells[0]] = dict(zip(header, cells[1:], strict=True))
    return rows


def notebook_expectation(scenario: str) -> dict[str, str]:
    """What the notebook records: it stops at a failed prerequisite, so every later step is skipped."""
    row = matrix()[scenario]
    if row["prerequisites"] != "failed":
        return row
    return {step: ("failed" if step == "prerequisites" else "skipped") for step in row}
