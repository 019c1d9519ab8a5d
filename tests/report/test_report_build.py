"""`report.build` on a batch folder: summary.json totals and per-step counts, summary.csv, and a
report.html that shows every org and step, a chart whose bars add up, remedies and notebook links,
with every string escaped and redacted; bad records are listed, never fatal; rebuilds are identical."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from report_batches import BATCH, MakeBatch, Record, error_record, write_record

from lsqsf_helpers import report
from lsqsf_helpers.redact import MASK, REDACTOR
from lsqsf_helpers.results import Status
from lsqsf_helpers.steps import STEP_IDS

STATUSES = [s.value for s in Status]
SVG = "{http://www.w3.org/2000/svg}"


def verdict(record: Record) -> str:
    return "failed" if record["error"] else "ready" if record["ready"] else "not_ready"


def load(out: Path) -> tuple[dict[str, Any], list[dict[str, str]], str]:
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    rows = list(csv.DictReader(io.StringIO((out / "summary.csv").read_text(encoding="utf-8"), newline="")))
    return summary, rows, (out / "report.html").read_text(encoding="utf-8")


def chart(page: str) -> ET.Element:
    match = re.search(r"<svg .*?</svg>", page, re.S)
    assert match, "no inline SVG chart"
    return ET.fromstring(match.group(0))


@pytest.fixture
def built(make_batch: MakeBatch) -> tuple[Path, report.Summary]:
    out = make_batch()
    return out, report.build(out)


def test_summary_json_totals_and_step_counts(
    built: tuple[Path, report.Summary], sandbox_records: list[Record]
) -> None:
    out, summary = built
    data, _, _ = load(out)
    expected = Counter(verdict(r) for r in sandbox_records)
    assert data["schema"] == "lsqsf.summary/1"
    assert data["totals"] == {
        "orgs": len(sandbox_records) + 2,
        "ready": expected["ready"],
        "not_ready": expected["not_ready"],
        "failed": expected["failed"] + 2,  # the error record and the half-written one
    }
    assert expected["ready"] and expected["not_ready"]  # the practice orgs cover both
    assert list(data["steps"]) == list(STEP_IDS)
    for step_id in STEP_IDS:
        want = Counter(s["status"] for r in sandbox_records for s in r["steps"] if s["id"] == step_id)
        counts = data["steps"][step_id]["counts"]
        assert {k: v for k, v in counts.items() if k in STATUSES and v} == dict(want)
        assert counts["not_run"] == 2
        assert sum(counts.values()) == data["totals"]["orgs"]
    assert data["run"] == {**{k: v for k, v in BATCH.items() if k != "schema"}, "note": ""}
    assert summary.verdict_line() == (
        f"{len(sandbox_records) + 2} orgs: {expected['ready']} ready, "
        f"{expected['not_ready']} not ready, {expected['failed'] + 2} failed"
    )


def test_summary_json_per_org(built: tuple[Path, report.Summary], sandbox_records: list[Record]) -> None:
    out, _ = built
    orgs = {o["org"]: o for o in load(out)[0]["orgs"]}
    assert set(orgs) == {r["org"] for r in sandbox_records} | {"acme-prod", "globex-uat"}
    for record in sandbox_records:
        entry = orgs[record["org"]]
        assert entry["ready"] is record["ready"] and entry["error"] == ""
        assert entry["counts"] == record["counts"]
        assert entry["steps"] == {s["id"]: s["status"] for s in record["steps"]}
        assert entry["remedies"] == {
            s["id"]: s["remedy"] or s["message"] for s in record["steps"] if s["status"] != "ok"
        }
        assert entry["notebook"] == f"{record['org']}/notebook.ipynb"
        assert entry["record"] == f"{record['org']}/record.json"
    assert orgs["acme-prod"]["error"] == "timed out after 300 s" and orgs["acme-prod"]["notebook"] is None
    assert orgs["acme-prod"]["steps"] == {}
    assert orgs["globex-uat"]["error"].startswith("record.json could not be read")
    assert load(out)[0]["unreadable"] == ["globex-uat/record.json"]


def test_orgs_are_sorted_failed_then_not_ready_then_ready(built: tuple[Path, report.Summary]) -> None:
    out, _ = built
    data, rows, page = load(out)
    order = ["failed", "not_ready", "ready"]
    verdicts = [o["verdict"] for o in data["orgs"]]
    assert verdicts == sorted(verdicts, key=order.index)
    assert [r["org"] for r in rows] == [o["org"] for o in data["orgs"]]
    assert re.findall(r'<tr data-org="([^"]*)"', page) == [o["org"] for o in data["orgs"]]


def test_summary_csv_has_one_row_per_org_and_every_step_column(
    built: tuple[Path, report.Summary], sandbox_records: list[Record]
) -> None:
    out, _ = built
    _, rows, _ = load(out)
    header = (out / "summary.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == ["org", "ready", "error", *STEP_IDS]
    assert len(rows) == len(sandbox_records) + 2
    by_org = {r["org"]: r for r in rows}
    for record in sandbox_records:
        row = by_org[record["org"]]
        assert row["ready"] == str(record["ready"]).lower()
        assert {s: row[s] for s in STEP_IDS} == {s["id"]: s["status"] for s in record["steps"]}
    assert by_org["acme-prod"]["error"] == "timed out after 300 s"
    assert {by_org["acme-prod"][s] for s in STEP_IDS} == {""}


def test_report_html_shows_every_org_and_step(built: tuple[Path, report.Summary]) -> None:
    out, _ = built
    data, _, page = load(out)
    for org in data["orgs"]:
        assert f'data-org="{html.escape(org["org"])}"' in page
    for step_id in STEP_IDS:
        assert f'data-step="{step_id}"' in page
        assert f"<code>{step_id}</code>" in page  # the counts table
    totals = data["totals"]
    assert f"{totals['orgs']} orgs: {totals['ready']} ready, {totals['not_ready']} not ready" in page
    for fact in ("2026-12-03 09:00:00 UTC", "5 min 12 s", "check", "examples/orgs.yaml"):
        assert fact in page


def test_chart_has_one_bar_per_step_whose_counts_add_up(built: tuple[Path, report.Summary]) -> None:
    out, _ = built
    data, _, page = load(out)
    svg = chart(page)
    assert svg.get("role") == "img"
    assert svg.find(f"{SVG}title") is not None and svg.find(f"{SVG}desc") is not None
    bars = svg.findall(f"{SVG}g[@class='bar']")
    assert [b.get("data-step") for b in bars] == list(STEP_IDS)
    for bar in bars:
        step_id = bar.get("data-step")
        assert step_id is not None
        segments = {r.get("data-status"): int(r.get("data-count", "")) for r in bar.iter(f"{SVG}rect")}
        assert sum(segments.values()) == data["totals"]["orgs"]
        assert segments == {k: v for k, v in data["steps"][step_id]["counts"].items() if v}
        widths = sum(float(r.get("width", "")) for r in bar.iter(f"{SVG}rect"))
        assert widths == pytest.approx(report.CHART_BAR_W, abs=0.5)
    # the text fallback says the same
    assert "<summary>The same counts as a table</summary>" in page


def test_action_needed_cells_carry_their_remedy(
    built: tuple[Path, report.Summary], sandbox_records: list[Record]
) -> None:
    out, _ = built
    page = load(out)[2]
    seen = 0
    for record in sandbox_records:
        for step in record["steps"]:
            if step["status"] == "action_needed":
                assert f'<td title="{html.escape(step["remedy"])}">' in page
                assert f"<b>What to do:</b> {html.escape(step['remedy'])}" in page
                seen += 1
    assert seen >= 5


def test_org_names_link_to_their_notebook_and_record(built: tuple[Path, report.Summary]) -> None:
    out, _ = built
    page = load(out)[2]
    assert '<a href="fresh/notebook.ipynb">fresh</a>' in page
    assert 'href="fresh/record.json"' in page
    assert 'href="acme-prod/notebook.ipynb"' not in page  # it failed before running: no notebook
    assert 'href="acme-prod/record.json"' in page
    for link in re.findall(r'href="([^"]+)"', page):
        assert (out / link).is_file(), link


def test_report_html_is_self_contained(built: tuple[Path, report.Summary]) -> None:
    page = load(built[0])[2]
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert not re.search(r"\bsrc=|url\(|@import", page)
    assert "default-src 'none'" in page


def test_strings_are_escaped_and_secrets_masked(make_batch: MakeBatch, sandbox_records: list[Record]) -> None:
    canary = "LEAKCANARY-report-5d1e"
    REDACTOR.register(canary, "test canary")
    evil = json.loads(json.dumps(next(r for r in sandbox_records if r["org"] == "fresh")))
    evil["org"] = '"><script>alert(1)</script>'
    step = next(s for s in evil["steps"] if s["status"] == "action_needed")
    step["message"] = f"<img src=x onerror=alert(2)> password {canary}"
    step["remedy"] = f"use {canary} & <b>bold</b>"
    out = make_batch([error_record("boom", f"crashed: {canary} <script>x</script>")], name="evil")
    write_record(out, evil, folder="evil-org")
    summary = report.build(out)
    assert '"><script>alert(1)</script>' in [o.org for o in summary.orgs]
    everything = "".join(
        p.read_text(encoding="utf-8")
        for p in (out / "report.html", out / "summary.json", out / "summary.csv")
    )
    assert canary not in everything
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page and "<img" not in page and "<b>bold" not in page
    assert html.escape('"><script>alert(1)</script>') in page
    assert f"use {MASK} &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert f"crashed: {MASK} &lt;script&gt;" in page
    assert chart(page) is not None  # still well-formed


def test_csv_cells_are_not_formulas(make_batch: MakeBatch, sandbox_records: list[Record]) -> None:
    out = make_batch([error_record("=HYPERLINK(1)", "-2+3")], broken=False, name="formula")
    report.build(out)
    rows = load(out)[1]
    assert rows[0]["org"] == "'=HYPERLINK(1)" and rows[0]["error"] == "'-2+3"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "[1, 2]",
        '{"schema": "lsqsf.run/9", "org": "x", "error": "", "steps": []}',
        '{"schema": "lsqsf.run/1", "org": "x", "error": "", "steps": [{"id": "remote_site", "status": "great"}]}',
        b"\xff\xfe not utf-8",
    ],
)
def test_an_unreadable_record_is_a_failed_org_not_a_crash(
    make_batch: MakeBatch, sandbox_records: list[Record], bad: str | bytes
) -> None:
    out = make_batch(sandbox_records[:2], broken=False)
    (out / "damaged").mkdir()
    path = out / "damaged" / "record.json"
    path.write_bytes(bad) if isinstance(bad, bytes) else path.write_text(bad)
    summary = report.build(out)
    assert summary.unreadable == ("damaged/record.json",)
    damaged = summary.orgs[0]
    assert damaged.org == "damaged" and damaged.verdict == "failed" and "could not be read" in damaged.error
    assert summary.totals()["orgs"] == 3


def test_ignores_folders_without_record_dot_files_and_temp_files(
    make_batch: MakeBatch, sandbox_records: list[Record]
) -> None:
    out = make_batch(sandbox_records[:1], broken=False)
    (out / "still-running").mkdir()  # a folder without record.json yet
    (out / "still-running" / ".record.json.abc123").write_text("{")  # write_atomic's temp file
    write_record(out, sandbox_records[1], folder=".hidden")
    (out / ".summary.json.tmp").write_text("{")
    (out / "notes.txt").write_text("hello")
    summary = report.build(out)
    assert [o.org for o in summary.orgs] == [sandbox_records[0]["org"]]


def test_without_batch_json_the_report_says_so_and_infers(make_batch: MakeBatch) -> None:
    out = make_batch(batch=None)
    summary = report.build(out)
    data, _, page = load(out)
    assert "batch.json is missing" in data["run"]["note"]
    assert "batch.json is missing" in page
    assert data["run"]["mode"] == "check" and data["run"]["sandbox"] is True
    assert data["run"]["started"] == min(o["started"] for o in map(json.loads, _records_text(out)))
    assert data["run"]["workers"] is None and data["run"]["interrupted"] is None
    assert summary.totals()["orgs"] == len(data["orgs"])


def _records_text(out: Path) -> list[str]:
    texts = []
    for path in sorted(out.glob("*/record.json")):
        try:
            json.loads(path.read_text())
        except ValueError:
            continue
        texts.append(path.read_text())
    return texts


def test_an_interrupted_batch_is_flagged(make_batch: MakeBatch, sandbox_records: list[Record]) -> None:
    out = make_batch(
        sandbox_records[:2], broken=False, batch={**BATCH, "interrupted": True, "scheduler": "slurm"}
    )
    report.build(out)
    page = load(out)[2]
    assert "The batch was interrupted" in page and "slurm" in page


def test_orgs_an_interruption_left_unfinished_are_named(
    make_batch: MakeBatch, sandbox_records: list[Record]
) -> None:
    missing = [f"org-{i:02d}" for i in range(23)]
    out = make_batch(
        sandbox_records[:2], broken=False, batch={**BATCH, "interrupted": True, "not_finished": missing}
    )
    summary = report.build(out)
    assert summary.run["not_finished"] == missing
    data, _, page = load(out)
    assert data["run"]["not_finished"] == missing
    assert "23 org(s) did not finish and are not in this report: org-00, org-01" in page
    assert "org-19 and 3 more" in page and "org-20" not in page and "--resume" in page


def test_rebuilding_gives_the_same_files(built: tuple[Path, report.Summary]) -> None:
    out, _ = built
    names = ("summary.json", "summary.csv", "report.html")
    first = {name: (out / name).read_bytes() for name in names}
    report.build(out)
    assert {name: (out / name).read_bytes() for name in names} == first
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temp file left behind


@pytest.mark.parametrize(
    "batch_text",
    [
        '{"schema": "lsqsf.batch/1", "workers": "four", "duration": NaN, "started": "yesterday", "sandbox": 1}',
        '{"schema": "lsqsf.batch/1"}',
        '{"schema": "lsqsf.batch/2", "mode": "apply"}',
        "[]",
        '{"schema": "lsqsf.batch/1", "started": ',
    ],
)
def test_odd_batch_json_never_breaks_the_report(
    make_batch: MakeBatch, sandbox_records: list[Record], batch_text: str
) -> None:
    naive = {**sandbox_records[0], "started": "2026-12-03T09:00:00", "duration": 1e300}
    out = make_batch([naive, *sandbox_records[1:3]], batch=None)
    (out / "batch.json").write_text(batch_text)
    summary = report.build(out)
    page = load(out)[2]
    assert summary.totals()["orgs"] == 5
    assert chart(page) is not None
    if '"lsqsf.batch/1"' not in batch_text or batch_text.endswith(": "):
        assert "inferred from the org records" in page and "none (local processes)" not in page
