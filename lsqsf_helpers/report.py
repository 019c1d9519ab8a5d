"""The batch report: summary.json, summary.csv and report.html, rebuilt from a batch folder's records.

A batch folder DIR holds `DIR/<org>/record.json` (schema lsqsf.run/1) and `DIR/<org>/notebook.ipynb`
per org, and `DIR/batch.json` (schema lsqsf.batch/1) for the run as a whole. `build` reads them all;
a record it cannot read (half-written, corrupt, another schema) becomes a failed org that says why,
never a crash. The three files are written atomically, hold nothing that depends on when the report
was built, and every string in them has passed through the redactor. Formats: docs/report.md.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lsqsf_helpers import __version__
from lsqsf_helpers.display import COLORS, badge_html
from lsqsf_helpers.errors import UsageError
from lsqsf_helpers.redact import REDACTOR
from lsqsf_helpers.render import write_atomic
from lsqsf_helpers.results import Status
from lsqsf_helpers.runbook import RECORD_SCHEMA
from lsqsf_helpers.steps import STEP_IDS, STEPS

SUMMARY_SCHEMA = "lsqsf.summary/1"
BATCH_SCHEMA = "lsqsf.batch/1"
RECORD, NOTEBOOK, BATCH = "record.json", "notebook.ipynb", "batch.json"
SUMMARY_JSON, SUMMARY_CSV, REPORT_HTML = "summary.json", "summary.csv", "report.html"
RUN_FIELDS = (
    "started",
    "finished",
    "duration",
    "mode",
    "workers",
    "scheduler",
    "orgs_file",
    "lsqsf_version",
    "sandbox",
    "interrupted",
    "not_finished",
)
NOT_RUN = "not_run"  # an org whose record has no result for the step (it failed before running)
NOT_RUN_COLORS = ("#ffffff", "#80868b", "not run")
VERDICTS = {"failed": Status.FAILED, "not_ready": Status.ACTION_NEEDED, "ready": Status.OK}
VERDICT_TEXT = {"failed": "failed", "not_ready": "not ready", "ready": "ready"}
TITLES = {step.id: step.title for step in STEPS}


@dataclass(frozen=True)
class OrgSummary:
    """One org's line in the report: its verdict, every step's status, and what to do where not ok."""

    org: str
    record: str  # relative to the batch folder
    notebook: str | None
    error: str = ""
    steps: dict[str, Status] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    remedies: dict[str, str] = field(default_factory=dict)  # non-ok steps: the remedy, else the message

    @property
    def ready(self) -> bool:
        return (
            not self.error and bool(self.steps) and not any(s.blocks_readiness for s in self.steps.values())
        )

    @property
    def verdict(self) -> str:
        return "failed" if self.error else "ready" if self.ready else "not_ready"

    def counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in Status}
        for status in self.steps.values():
            counts[status.value] += 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "org": self.org,
            "verdict": self.verdict,
            "ready": self.ready,
            "error": self.error,
            "counts": self.counts(),
            "steps": {step_id: status.value for step_id, status in self.steps.items()},
            "remedies": self.remedies,
            "notebook": self.notebook,
            "record": self.record,
        }


@dataclass(frozen=True)
class Summary:
    """What `build` read and wrote: the run's metadata, every org, and the paths of the three files."""

    out_dir: Path
    run: dict[str, Any]
    run_note: str  # empty when batch.json was read; else why the run's details were inferred
    step_ids: tuple[str, ...]
    orgs: tuple[OrgSummary, ...]
    unreadable: tuple[str, ...]  # records that could not be read (their orgs count as failed)

    @property
    def json_path(self) -> Path:
        return self.out_dir / SUMMARY_JSON

    @property
    def csv_path(self) -> Path:
        return self.out_dir / SUMMARY_CSV

    @property
    def html_path(self) -> Path:
        return self.out_dir / REPORT_HTML

    @property
    def all_ready(self) -> bool:
        return bool(self.orgs) and all(org.ready for org in self.orgs)

    def totals(self) -> dict[str, int]:
        totals = {"orgs": len(self.orgs), "ready": 0, "not_ready": 0, "failed": 0}
        for org in self.orgs:
            totals[org.verdict] += 1
        return totals

    def step_counts(self) -> dict[str, dict[str, int]]:
        """Per step, how many orgs have each status; `not_run` for orgs without a result, so each adds up."""
        counts = {step_id: {**{s.value: 0 for s in Status}, NOT_RUN: 0} for step_id in self.step_ids}
        for org in self.orgs:
            for step_id in self.step_ids:
                status = org.steps.get(step_id)
                counts[step_id][status.value if status else NOT_RUN] += 1
        return counts

    def verdict_line(self) -> str:
        t = self.totals()
        noun = "org" if t["orgs"] == 1 else "orgs"
        return f"{t['orgs']} {noun}: {t['ready']} ready, {t['not_ready']} not ready, {t['failed']} failed"

    def as_dict(self) -> dict[str, Any]:
        counts = self.step_counts()
        return {
            "schema": SUMMARY_SCHEMA,
            "lsqsf_version": __version__,
            "run": {**self.run, "note": self.run_note},
            "totals": self.totals(),
            "steps": {
                step_id: {"title": TITLES.get(step_id, step_id), "counts": counts[step_id]}
                for step_id in self.step_ids
            },
            "orgs": [org.as_dict() for org in self.orgs],
            "unreadable": list(self.unreadable),
        }


# ---------------------------------------------------------------- reading


def build(out_dir: Path) -> Summary:
    """Read every `<org>/record.json` under `out_dir` and (re)write summary.json, summary.csv, report.html."""
    summary = read(out_dir)
    try:
        write_atomic(summary.json_path, summary_json(summary))
        write_atomic(summary.csv_path, summary_csv(summary))
        write_atomic(summary.html_path, report_html(summary))
    except OSError as exc:
        raise UsageError(
            f"cannot write the report into {out_dir} ({exc.strerror or exc})", field="DIR"
        ) from None
    return summary


def read(out_dir: Path) -> Summary:
    """The summary of a batch folder, without writing anything. UsageError when there is nothing to read."""
    if not out_dir.is_dir():
        problem = "is not a folder" if out_dir.exists() else "does not exist"
        raise UsageError(f"{out_dir} {problem}", field="DIR")
    folders = [
        d for d in sorted(out_dir.iterdir()) if not d.name.startswith((".", "~")) and (d / RECORD).is_file()
    ]
    if not folders:
        raise UsageError(
            f"{out_dir} holds no <org>/{RECORD}",
            field="DIR",
            remedy="give the folder a batch run wrote (lsqsf batch ... --out DIR)",
        )
    loaded = [_read_org(folder) for folder in folders]
    orgs = sorted(
        (org for org, _ in loaded),
        key=lambda o: (list(VERDICTS).index(o.verdict), o.org.casefold(), o.record),
    )
    extra = [s for org in orgs for s in org.steps if s not in STEP_IDS]
    run, note = _read_run(out_dir, [data for _, data in loaded if data is not None])
    return Summary(
        out_dir=out_dir,
        run=run,
        run_note=note,
        step_ids=STEP_IDS + tuple(dict.fromkeys(extra)),
        orgs=tuple(orgs),
        unreadable=tuple(org.record for org, data in loaded if data is None),
    )


def _read_org(folder: Path) -> tuple[OrgSummary, dict[str, Any] | None]:
    """The org and its raw record; an unreadable record gives a failed org that says why, and None."""
    record = f"{folder.name}/{RECORD}"
    notebook = f"{folder.name}/{NOTEBOOK}" if (folder / NOTEBOOK).is_file() else None
    try:
        data = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        return _org_from_record(data, record, notebook), data
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        error = f"{RECORD} could not be read (half-written or damaged?): {exc}"
        return OrgSummary(org=folder.name, record=record, notebook=notebook, error=error), None


def _org_from_record(data: Any, record: str, notebook: str | None) -> OrgSummary:
    if not isinstance(data, dict) or data.get("schema") != RECORD_SCHEMA:
        raise ValueError(f"not an {RECORD_SCHEMA} record")
    org, error, steps = data.get("org"), data.get("error") or "", data.get("steps")
    if not isinstance(org, str) or not org or not isinstance(error, str) or not isinstance(steps, list):
        raise ValueError("org, error or steps is missing or of the wrong type")
    statuses, messages, remedies = {}, {}, {}
    for step in steps:
        if not isinstance(step, dict) or not isinstance(step.get("id"), str):
            raise ValueError("a step without an id")
        step_id = step["id"]
        try:
            statuses[step_id] = Status(str(step.get("status")))
        except ValueError:
            raise ValueError(f"step {step_id} has an unknown status {step.get('status')!r}") from None
        messages[step_id] = str(step.get("message") or "")
        if statuses[step_id] is not Status.OK:
            remedies[step_id] = str(step.get("remedy") or "") or messages[step_id]
    return OrgSummary(org, record, notebook, error, statuses, messages, remedies)


def _read_run(out_dir: Path, records: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """The run's metadata from batch.json; when it is missing or unreadable, what the records tell."""
    try:
        data = json.loads((out_dir / BATCH).read_text(encoding="utf-8"))
    except FileNotFoundError:
        problem = f"{BATCH} is missing"
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        problem = f"{BATCH} could not be read ({exc})"
    else:
        if isinstance(data, dict) and data.get("schema") == BATCH_SCHEMA:
            return {name: data.get(name) for name in RUN_FIELDS}, ""
        problem = f"{BATCH} is not an {BATCH_SCHEMA} file"
    return _infer_run(records), f"{problem}: the run's details below are inferred from the org records"


def _infer_run(records: list[dict[str, Any]]) -> dict[str, Any]:
    run: dict[str, Any] = dict.fromkeys(RUN_FIELDS)
    spans = []
    for data in records:
        try:
            start = datetime.fromisoformat(data["started"])
            if start.tzinfo is not None:  # records are written in UTC; a naive time cannot be compared
                spans.append((start, start + timedelta(seconds=float(data["duration"]))))
        except (KeyError, TypeError, ValueError, OverflowError):
            continue
    if spans:
        started, finished = min(s for s, _ in spans), max(f for _, f in spans)
        run["started"] = started.isoformat(timespec="seconds")
        run["finished"] = finished.isoformat(timespec="seconds")
        run["duration"] = round((finished - started).total_seconds(), 3)
    for name in ("mode", "lsqsf_version"):
        values = {str(data.get(name)) for data in records if data.get(name)}
        run[name] = values.pop() if len(values) == 1 else ("mixed" if values else None)
    run["sandbox"] = any(data.get("sandbox_scenario") for data in records) if records else None
    return run


# ---------------------------------------------------------------- summary.json and summary.csv


def summary_json(summary: Summary) -> str:
    return json.dumps(REDACTOR.redact_obj(summary.as_dict()), indent=2, ensure_ascii=False) + "\n"


def _csv_cell(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (=, +, -, @ first get a leading apostrophe)."""
    text = REDACTOR.redact(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def summary_csv(summary: Summary) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["org", "ready", "error", *summary.step_ids])
    for org in summary.orgs:
        statuses = [org.steps[s].value if s in org.steps else "" for s in summary.step_ids]
        writer.writerow([_csv_cell(org.org), str(org.ready).lower(), _csv_cell(org.error), *statuses])
    return out.getvalue()


# ---------------------------------------------------------------- report.html


def _e(text: object) -> str:
    """Redacted, then HTML-escaped (quotes too, so it is safe in attributes)."""
    return html.escape(REDACTOR.redact(str(text)), quote=True)


def _href(path: str) -> str:
    return _e(quote(path))


def _pill(status: Status, text: str) -> str:
    background, color, _ = COLORS[status]
    return f'<span class="pill" style="background:{background};color:{color};border-color:{color}">{_e(text)}</span>'


def _duration(seconds: object) -> str:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not math.isfinite(seconds):
        return "unknown" if seconds is None else str(seconds)
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _when(value: object) -> str:
    if not isinstance(value, str):
        return "unknown"
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    except ValueError:
        return value


def _against(sandbox: object) -> str:
    return "the sandbox" if sandbox is True else "real orgs" if sandbox is False else "unknown"


def _header(summary: Summary) -> str:
    totals, run = summary.totals(), summary.run
    tiles = [f'<div class="tile"><b>{totals["orgs"]}</b>{"org" if totals["orgs"] == 1 else "orgs"}</div>']
    for verdict, status in VERDICTS.items():
        background, color, _ = COLORS[status if totals[verdict] else Status.SKIPPED]
        tiles.append(
            f'<div class="tile" style="border-left-color:{color};background:{background};color:{color}">'
            f"<b>{totals[verdict]}</b>{VERDICT_TEXT[verdict]}</div>"
        )
    workers = run.get("workers")
    facts = [
        ("started", _when(run.get("started"))),
        ("finished", _when(run.get("finished"))),
        ("took", _duration(run.get("duration"))),
        ("mode", run.get("mode") or "unknown"),
        ("workers", "unknown" if workers is None else workers),
        ("scheduler", run.get("scheduler") or ("unknown" if summary.run_note else "none (local processes)")),
        ("orgs file", run.get("orgs_file") or "unknown"),
        ("lsqsf", run.get("lsqsf_version") or "unknown"),
        ("against", _against(run.get("sandbox"))),
    ]
    meta = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in facts)
    notes = []
    not_finished = [str(label) for label in run.get("not_finished") or []]
    if not_finished:
        shown = ", ".join(not_finished[:20]) + (
            f" and {len(not_finished) - 20} more" if len(not_finished) > 20 else ""
        )
        notes.append(
            f"{len(not_finished)} org(s) did not finish and are not in this report: {shown}. Run the same "
            "lsqsf batch command again with --resume to finish them."
        )
    elif run.get("interrupted"):
        notes.append(
            "The batch was interrupted: orgs that had not finished are missing or failed in this report."
        )
    if summary.run_note:
        notes.append(summary.run_note + ".")
    if summary.unreadable:
        notes.append(
            f"{len(summary.unreadable)} record(s) could not be read and count as failed: "
            + ", ".join(summary.unreadable)
        )
    warnings = "".join(f'<p class="warn" role="alert">{_e(n)}</p>' for n in notes)
    return (
        f"<header><h1>LeadSquared Connector: batch report</h1>"
        f'<p class="verdict">{_e(summary.verdict_line())}</p>'
        f'<div class="tiles">{"".join(tiles)}</div><dl class="meta">{meta}</dl>{warnings}</header>'
    )


CHART_LABEL_W, CHART_BAR_W, CHART_ROW_H, CHART_BAR_H, CHART_TOP = 150, 800, 32, 22, 40


def _chart_keys() -> list[tuple[str, str, str]]:
    """(key, color, text) for every segment kind: the statuses in their display colors, then not run."""
    return [(s.value, COLORS[s][1], COLORS[s][2]) for s in Status] + [(NOT_RUN, *NOT_RUN_COLORS[1:])]


def _paint(key: str, color: str) -> str:
    """Fill (and outline) of a segment or legend swatch: solid for a status, dashed outline for not run."""
    return 'fill="#fff" stroke="#80868b" stroke-dasharray="3 2"' if key == NOT_RUN else f'fill="{color}"'


def _legend() -> str:
    items, x = [], CHART_LABEL_W
    for key, color, text in _chart_keys():
        items.append(
            f'<rect x="{x + 0.5}" y="8.5" width="12" height="12" rx="2" {_paint(key, color)}/>'
            f'<text x="{x + 18}" y="19" class="legend">{_e(text)}</text>'
        )
        x += 40 + 7 * len(text)
    return "".join(items)


def _bar(row: int, step_id: str, counts: dict[str, int], total: int) -> str:
    y, x = CHART_TOP + row * CHART_ROW_H, float(CHART_LABEL_W)
    parts = [f'<text x="{CHART_LABEL_W - 10}" y="{y + 15}" class="step">{_e(step_id)}</text>']
    for key, color, text in _chart_keys():
        n = counts[key]
        if not n:
            continue
        w = CHART_BAR_W * n / total
        parts.append(
            f'<rect class="seg" data-status="{key}" data-count="{n}" x="{x:.1f}" y="{y}" width="{w:.1f}" '
            f'height="{CHART_BAR_H}" {_paint(key, color)}><title>{_e(step_id)}: {n} {_e(text)}</title></rect>'
        )
        if w >= 8 + 8 * len(str(n)):  # the count fits inside its segment
            ink = color if key == NOT_RUN else "#fff"
            parts.append(f'<text x="{x + w / 2:.1f}" y="{y + 15}" class="count" fill="{ink}">{n}</text>')
        x += w
    return f'<g class="bar" data-step="{_e(step_id)}">{"".join(parts)}</g>'


def _chart(summary: Summary) -> str:
    """Stacked horizontal bars, one per step, a segment per status; a text table says the same."""
    counts, total, keys = summary.step_counts(), len(summary.orgs), _chart_keys()
    width = CHART_LABEL_W + CHART_BAR_W + 10
    height = CHART_TOP + CHART_ROW_H * len(summary.step_ids)
    bars = "".join(_bar(row, s, counts[s], total) for row, s in enumerate(summary.step_ids))
    desc = (
        f"For each of the {len(summary.step_ids)} steps, how many of the {total} orgs have each status. "
        + (
            "; ".join(
                f"{s}: " + ", ".join(f"{counts[s][key]} {text}" for key, _, text in keys if counts[s][key])
                for s in summary.step_ids
            )
        )
    )
    svg = (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="chart-title">Status counts per step</title><desc id="chart-desc">{_e(desc)}</desc>'
        f"{_legend()}{bars}</svg>"
    )
    head = "".join(f'<th scope="col">{_e(text)}</th>' for _, _, text in keys)
    rows = "".join(
        f'<tr><th scope="row"><code>{_e(s)}</code></th>'
        + "".join(f"<td>{counts[s][key]}</td>" for key, _, _ in keys)
        + "</tr>"
        for s in summary.step_ids
    )
    return (
        f'<section><h2>Steps across all orgs</h2><figure>{svg}</figure><details class="as-table">'
        f"<summary>The same counts as a table</summary>"
        f'<table class="counts"><thead><tr><th scope="col">step</th>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></details></section>"
    )


def _cell(org: OrgSummary, step_id: str) -> str:
    status = org.steps.get(step_id)
    if status is None:
        return '<td class="none">&ndash;</td>'
    if status is Status.OK:
        return f"<td>{badge_html(status)}</td>"
    remedy, message = org.remedies.get(step_id, ""), org.messages.get(step_id, "")
    body = f"<p>{_e(message)}</p>" if message and message != remedy else ""
    return (
        f'<td title="{_e(remedy)}"><details><summary>{badge_html(status)}</summary>'
        f'<div class="fix">{body}<p><b>What to do:</b> {_e(remedy)}</p></div></details></td>'
    )


def _org_row(org: OrgSummary, step_ids: tuple[str, ...]) -> str:
    name = f'<a href="{_href(org.notebook)}">{_e(org.org)}</a>' if org.notebook else _e(org.org)
    record = f'<a class="rec" href="{_href(org.record)}">record</a>'
    if org.error:
        cells = f'<td colspan="{len(step_ids)}" class="error">{_e(org.error)}</td>'
    else:
        cells = "".join(_cell(org, step_id) for step_id in step_ids)
    return (
        f'<tr data-org="{_e(org.org)}" data-verdict="{org.verdict}">'
        f'<th scope="row">{name} {record}</th>{cells}</tr>'
    )


def _table(summary: Summary) -> str:
    """Orgs by verdict (failed, not ready, ready), one colored status cell per step."""
    head = "".join(
        f'<th scope="col" title="{_e(TITLES.get(s, s))}"><code>{_e(s).replace("_", "_<wbr>")}</code></th>'
        for s in summary.step_ids
    )
    groups = []
    for verdict, status in VERDICTS.items():
        orgs = [org for org in summary.orgs if org.verdict == verdict]
        if orgs:
            label = _pill(status, f"{len(orgs)} {VERDICT_TEXT[verdict]}")
            rows = "".join(_org_row(org, summary.step_ids) for org in orgs)
            groups.append(
                f'<tbody><tr class="group"><th colspan="{len(summary.step_ids) + 1}">{label}</th></tr>'
                f"{rows}</tbody>"
            )
    return (
        '<section class="wide"><h2>Orgs</h2><p class="hint">Open a status to see what to do; '
        "an org's name opens its executed notebook, <i>record</i> its JSON record.</p>"
        f'<table class="orgs"><thead><tr><th scope="col">org</th>{head}</tr></thead>'
        f"{''.join(groups)}</table></section>"
    )


CSS = """
body{margin:0;background:#f6f7f9;color:#202124;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:1240px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:0 0 12px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.verdict{font-size:15px;color:#3c4043;margin:0 0 12px}
.tiles{display:flex;gap:12px;flex-wrap:wrap}
.tile{min-width:110px;padding:8px 16px;background:#fff;border:1px solid #dadce0;border-left:6px solid #3c4043;border-radius:8px;font-weight:600}
.tile b{display:block;font-size:28px;line-height:1.2}
.meta{display:flex;flex-wrap:wrap;gap:6px 28px;margin:16px 0 0}
.meta dt{font-size:11px;text-transform:uppercase;letter-spacing:.04em;color:#5f6368}.meta dd{margin:0}
.warn{background:#fef7e0;border:1px solid #b06000;color:#7a4300;border-radius:6px;padding:8px 12px;margin:12px 0 0}
section{background:#fff;border:1px solid #dadce0;border-radius:8px;padding:16px 18px;margin-top:18px}
figure{margin:0}.chart{width:100%;max-width:960px;height:auto}
.chart text{font-family:inherit;font-size:13px}.chart .step{text-anchor:end;fill:#3c4043;font-family:ui-monospace,Menlo,Consolas,monospace}
.chart .count{text-anchor:middle;font-weight:600}.chart .legend{fill:#3c4043}
.as-table{margin-top:8px;color:#5f6368}.as-table summary{cursor:pointer}
table{border-collapse:collapse}th,td{text-align:left;vertical-align:top}
.counts{margin-top:8px}.counts th,.counts td{padding:3px 10px;border-bottom:1px solid #eee}.counts td{text-align:right}
.hint{color:#5f6368;margin:-6px 0 10px}
section.wide{box-sizing:border-box;width:fit-content;min-width:100%}
.orgs{width:100%}.orgs th,.orgs td{padding:6px 6px;border-bottom:1px solid #e8eaed;white-space:nowrap}
.orgs thead th{border-bottom:2px solid #dadce0;font-weight:600;white-space:normal;min-width:70px}
.orgs tbody th{font-weight:600}.orgs tbody tr:hover{background:#f8f9fa}
.orgs tr.group th{background:#f8f9fa;padding:8px 8px 6px;border-bottom:1px solid #dadce0}.orgs tr.group:hover{background:none}
.orgs a{color:#1a0dab;text-decoration:none}.orgs a:hover{text-decoration:underline}
.orgs a.rec{font-size:11px;font-weight:400;color:#5f6368;margin-left:4px}
.orgs td.error{white-space:pre-wrap;color:#c5221f;max-width:700px}.orgs td.none{color:#9aa0a6}
.orgs td{position:relative}.orgs summary{cursor:pointer;list-style:none}.orgs summary::-webkit-details-marker{display:none}
.orgs summary .lsqsf-badge::after{content:" \\25BE"}
.fix{position:absolute;z-index:2;top:30px;left:0;width:300px;white-space:normal;background:#fff;border:1px solid #dadce0;border-radius:6px;box-shadow:0 2px 8px rgba(0,0,0,.15);padding:4px 12px;font-size:13px}
.orgs td:nth-last-child(-n+3) .fix{left:auto;right:0}
.pill{border:1px solid;border-radius:10px;padding:1px 8px;font-size:.85em;font-weight:600}
footer{color:#5f6368;font-size:12px;margin-top:18px}footer a{color:#5f6368}
"""


def report_html(summary: Summary) -> str:
    """The whole report as one self-contained page: inline CSS, inline SVG, no script, nothing fetched."""
    footer = (
        f"<footer>Built by lsqsf {_e(__version__)} from {len(summary.orgs)} org records. "
        f'Data: <a href="{SUMMARY_JSON}">{SUMMARY_JSON}</a> &middot; <a href="{SUMMARY_CSV}">{SUMMARY_CSV}</a></footer>'
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>lsqsf report: {_e(summary.verdict_line())}</title><style>{CSS}</style></head>"
        f"<body><main>{_header(summary)}{_chart(summary)}{_table(summary)}{footer}</main></body></html>\n"
    )
