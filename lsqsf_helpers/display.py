"""Notebook views of results: each has a text/plain form (logs, nbval) and a text/html form (people).

They are plain objects with `_repr_html_` and `__repr__`, shown with IPython's `display`, so results
land in the cell's ordinary outputs, never inside an Output widget's state.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from lsqsf_helpers.redact import REDACTOR
from lsqsf_helpers.render import step_lines
from lsqsf_helpers.results import Status, StepResult

COLORS = {
    Status.OK: ("#e6f4ea", "#137333", "ok"),
    Status.ACTION_NEEDED: ("#fef7e0", "#b06000", "action needed"),
    Status.FAILED: ("#fce8e6", "#c5221f", "failed"),
    Status.MANUAL: ("#e8f0fe", "#1a73e8", "manual"),
    Status.SKIPPED: ("#f1f3f4", "#5f6368", "skipped"),
}


def badge_html(status: Status) -> str:
    """A small colored status label."""
    background, color, text = COLORS[status]
    return (
        f'<span class="lsqsf-badge lsqsf-{status.value}" style="background:{background};color:{color};'
        f'border:1px solid {color};border-radius:10px;padding:1px 8px;font-size:0.85em;font-weight:600">'
        f"{text}</span>"
    )


def _e(text: object) -> str:
    return html.escape(REDACTOR.redact(str(text)))


def pending_badge_html() -> str:
    """The label for a step that has not run yet."""
    return '<span class="lsqsf-badge lsqsf-pending">pending</span>'


class StepView:
    """One step's result: badge, message, remedy, changes and links."""

    def __init__(self, result: StepResult) -> None:
        self.result = result

    def __repr__(self) -> str:
        return REDACTOR.redact("\n".join(line.strip() for line in step_lines(self.result)))

    def _repr_html_(self) -> str:
        r = self.result
        parts = [
            f'<div class="lsqsf-step" data-step="{_e(r.step)}" data-status="{r.status.value}" '
            'style="border-left:4px solid #dadce0;padding:4px 10px;margin:4px 0">',
            f"{badge_html(r.status)} <b>{_e(r.title)}</b> <code>{_e(r.step)}</code>",
            f'<div class="lsqsf-message">{_e(r.message)}</div>',
        ]
        if r.remedy and r.status is not Status.OK:
            parts.append(f'<div class="lsqsf-remedy"><b>What to do:</b> {_e(r.remedy)}</div>')
        if r.changes:
            items = "".join(
                f"<li>{_e(c.what)}: <code>{_e(c.before)}</code> &rarr; <code>{_e(c.after)}</code></li>"
                for c in r.changes
            )
            parts.append(f'<div class="lsqsf-changes"><b>Changed:</b><ul>{items}</ul></div>')
        if r.links and r.status is not Status.OK:
            links = " · ".join(
                f'<a href="{_e(url)}" target="_blank" rel="noopener">{_e(label)}</a>'
                for label, url in r.links
            )
            parts.append(f'<div class="lsqsf-links">{links}</div>')
        parts.append("</div>")
        return "".join(parts)


class ChecklistView:
    """Every step with its status so far (steps not run yet show as pending)."""

    def __init__(self, step_ids: Iterable[str], results: dict[str, StepResult]) -> None:
        self.step_ids = tuple(step_ids)
        self.results = dict(results)

    def __repr__(self) -> str:
        return "\n".join(
            f"[{self.results[s].status.value if s in self.results else 'pending'}] {s}" for s in self.step_ids
        )

    def _repr_html_(self) -> str:
        rows = []
        for step_id in self.step_ids:
            result = self.results.get(step_id)
            badge = badge_html(result.status) if result else pending_badge_html()
            title = _e(result.title) if result else ""
            rows.append(
                f'<tr data-step="{_e(step_id)}"><td>{badge}</td><td><code>{_e(step_id)}</code></td><td>{title}</td></tr>'
            )
        return f'<table class="lsqsf-checklist">{"".join(rows)}</table>'


class MessageView:
    """A plain notice (a setup error, the end of a run) in both forms."""

    def __init__(self, text: str, status: Status | None = None) -> None:
        self.text = REDACTOR.redact(text)
        self.status = status

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        badge = f"{badge_html(self.status)} " if self.status is not None else ""
        return f'<div class="lsqsf-notice">{badge}{html.escape(self.text)}</div>'
