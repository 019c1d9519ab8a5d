"""The runbook notebook's widgets in JupyterLab: the settings form, the live checklist, Check/Fix per step.

Every widget drives a `NotebookRun`; nothing here talks to an org itself, and results are rendered
with the views of `display`, which redact secrets. A value typed into a Password box goes to
`run.configure` as a typed secret for this session, and the box is cleared right after, so it does
not stay in the widget state a saved notebook may keep. Each widget returned here has a short fixed
`repr`, because nbval compares the text/plain form of outputs (model ids and values must not show).

Browser tests find the parts by CSS class: ``lsqsf-field-<name>`` (input of a flat parameter; in a
run against a sandbox, ``sandbox_scenario`` is a Dropdown of the practice orgs with their summaries),
``lsqsf-typed-<name>`` (its Password box), ``lsqsf-field-error``, ``lsqsf-use``, ``lsqsf-form-status``,
``lsqsf-apply``, ``lsqsf-check``, ``lsqsf-fix``, ``lsqsf-confirm``, ``lsqsf-cancel``, ``lsqsf-step-badge``,
``lsqsf-step-result``, ``lsqsf-checklist-summary`` and ``lsqsf-checklist-table``; a step's controls are in
``lsqsf-step-panel-<step id>``.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from lsqsf_helpers import lsq_regions
from lsqsf_helpers import params as p
from lsqsf_helpers.display import COLORS, MessageView, StepView, badge_html, pending_badge_html
from lsqsf_helpers.errors import LsqsfError, UsageError
from lsqsf_helpers.redact import REDACTOR
from lsqsf_helpers.results import Status, StepResult
from lsqsf_helpers.secrets import parse_ref
from lsqsf_helpers.steps import STEP_IDS, STEPS

if TYPE_CHECKING:
    from lsqsf_helpers.notebook import NotebookRun

Validator = Callable[[object, str], object]

ERROR_COLOR = "#c5221f"
CUSTOM_HOST = "custom"
_LABEL_STYLE = {"description_width": "13em"}

LABELS = {
    "org": "Org label",
    "sf_login": "Salesforce login",
    "sf_auth": "Auth mode",
    "sf_username": "Username",
    "sf_password": "Password",
    "sf_security_token": "Security token",
    "sf_access_token": "Access token",
    "sf_instance_url": "Instance URL",
    "sf_consumer_key": "Consumer key",
    "sf_consumer_secret": "Consumer secret",
    "sf_private_key": "JWT private key",
    "sf_api_version": "API version",
    "lsq_region": "LeadSquared region",
    "lsq_host": "LeadSquared host",
    "lsq_access_key": "Access key",
    "lsq_secret_key": "Secret key",
    "connector_package_version_id": "Package version id",
    "connector_namespace": "Namespace prefix",
    "connector_package_name": "Package name",
    "connector_remote_site_name": "Remote site name",
    "connector_page_url": "Configure page URL",
    "connector_authenticated": "Authenticated in the connector",
    "sandbox_scenario": "Sandbox scenario",
}
SECTIONS = {"org": "Org", "sf": "Salesforce", "lsq": "LeadSquared", "connector": "Connector"}
VALIDATORS: dict[str, Validator] = {
    "org": p.validate_label,
    "sf_login": p.validate_login,
    "sf_username": p.validate_username,
    "sf_instance_url": p.validate_instance_url,
    "sf_consumer_key": p.validate_consumer_key,
    "sf_api_version": p.validate_api_version,
    "lsq_host": p.validate_lsq_host,
    "connector_package_version_id": p.validate_package_version_id,
    "connector_namespace": p.validate_namespace,
    "connector_package_name": p.validate_package_name,
    "connector_remote_site_name": p.validate_remote_site_name,
    "connector_page_url": p.validate_page_url,
    "sandbox_scenario": p.validate_sandbox_scenario,
}
STEPS_BY_ID = {step.id: step for step in STEPS}


def _modes_using(key: str) -> tuple[str, ...]:
    return tuple(m for m in p.AUTH_MODES if key in (*p.AUTH_REQUIRED[m], *p.AUTH_OPTIONAL.get(m, ())))


# Salesforce credential fields by the auth modes that use them (rows of the other modes are hidden).
AUTH_FIELDS: dict[str, tuple[str, ...]] = {
    param.name: _modes_using(param.path.removeprefix("salesforce."))
    for param in p.FLAT_PARAMETERS
    if param.path.startswith("salesforce.") and _modes_using(param.path.removeprefix("salesforce."))
}


class _Panel(widgets.VBox):  # type: ignore[misc]
    """A VBox whose text/plain form is a fixed label: nbval compares it, so no ids or values."""

    def __init__(self, label: str, children: Sequence[Any], **kwargs: Any) -> None:
        super().__init__(list(children), **kwargs)
        self._lsqsf_label = label

    def __repr__(self) -> str:
        return f"<lsqsf {self._lsqsf_label}>"


def _shown(widget: Any, visible: bool) -> None:
    widget.layout.display = None if visible else "none"


def _message_html(text: str, color: str) -> str:
    shown = html.escape(REDACTOR.redact(text)).replace("\n", "<br>")
    return f'<span style="color:{color}">{shown}</span>'


# ----- the form ---------------------------------------------------------------------------------------
class _Field:
    """One flat parameter: its input widget, and an error label next to it."""

    def __init__(self, param: p.FlatParameter, control: Any, validator: Validator | None = None) -> None:
        self.param = param
        self.control = control.add_class("lsqsf-field").add_class(f"lsqsf-field-{param.name}")
        self.validator = validator
        self.error = (
            widgets.HTML("").add_class("lsqsf-field-error").add_class(f"lsqsf-field-error-{param.name}")
        )
        self.row = widgets.HBox(self.parts())
        control.observe(lambda _change: self.validate(), names="value")

    def parts(self) -> list[Any]:
        return [self.control, self.error]

    @property
    def visible(self) -> bool:
        return bool(self.row.layout.display != "none")

    def value(self) -> Any:
        """The flat parameter's value ("" / False when the row is hidden)."""
        return self.control.value if self.visible else self.param.default

    def typed(self) -> str:
        return ""

    def show_error(self, message: str) -> None:
        self.error.value = _message_html(message, ERROR_COLOR)
        self.control.layout.border = f"1px solid {ERROR_COLOR}"

    def clear_error(self) -> None:
        self.error.value = ""
        self.control.layout.border = None

    def validate(self) -> None:
        text = str(self.control.value).strip()
        if self.validator is None or not text:
            self.clear_error()
            return
        try:
            self.validator(text, self.param.name)
        except UsageError as exc:
            self.show_error(str(exc))
        else:
            self.clear_error()


class _SecretField(_Field):
    """A secret: a reference (env:/file:/keyring:/prompt), or the value typed for this session only."""

    def __init__(self, param: p.FlatParameter, control: Any) -> None:
        self._clearing = False
        self.password = (
            widgets.Password(
                value="",
                placeholder="or type it for this session",
                tooltip=f"{LABELS.get(param.name, param.name)}: typed here, used for this session only, never saved",
                continuous_update=False,
            )
            .add_class("lsqsf-typed")
            .add_class(f"lsqsf-typed-{param.name}")
        )
        super().__init__(param, control)

    def parts(self) -> list[Any]:
        return [self.control, self.password, self.error]

    def typed(self) -> str:
        return str(self.password.value) if self.visible else ""

    def value(self) -> Any:
        return "prompt" if self.typed() else super().value()

    def validate(self) -> None:
        if self._clearing:
            return
        text = str(self.control.value).strip()
        kind, sep, _ = text.partition(":")
        if text and text != "prompt" and (not sep or kind not in ("env", "file", "keyring")):
            self._clearing = True  # it may be the secret itself: keep it out of the saved widget state
            self.control.value = ""
            self._clearing = False
            self.show_error(
                f"{self.param.name}: this is not a reference and may be the secret itself, so it was "
                "removed from the form; type the secret in the box beside it, or give env:NAME, "
                "file:PATH or keyring:SERVICE/USER"
            )
            return
        if not text:
            self.clear_error()
            return
        try:
            parse_ref(text, self.param.name)
        except UsageError as exc:
            self.show_error(str(exc))
        else:
            self.clear_error()


class _RegionField(_Field):
    """The LeadSquared region; its "custom host" choice hands over to the host field."""

    def value(self) -> Any:
        return "" if self.control.value == CUSTOM_HOST else super().value()


def _described(param: p.FlatParameter) -> dict[str, Any]:
    return {
        "description": LABELS.get(param.name, param.name),
        "tooltip": f"{param.name}: {param.help}",
        "style": _LABEL_STYLE,
    }


def _text_field(param: p.FlatParameter, value: object) -> _Field:
    control = widgets.Text(
        value="" if value is None else str(value),
        placeholder=param.help,
        continuous_update=False,
        layout=widgets.Layout(width="36em"),
        **_described(param),
    )
    field = _Field(param, control, VALIDATORS.get(param.name))
    field.validate()
    return field


def _secret_field(param: p.FlatParameter, value: object) -> _Field:
    control = widgets.Text(
        value="" if value is None else str(value),
        placeholder="env:NAME | file:PATH | keyring:SERVICE/USER | prompt",
        continuous_update=False,
        layout=widgets.Layout(width="36em"),
        **_described(param),
    )
    field = _SecretField(param, control)
    field.validate()
    return field


def _auth_field(param: p.FlatParameter, value: object) -> _Field:
    current = str(value or "").strip().lower()
    control = widgets.Dropdown(
        options=[(mode, mode) for mode in p.AUTH_MODES],
        value=current if current in p.AUTH_MODES else "password",
        **_described(param),
    )
    return _Field(param, control)


def _region_field(param: p.FlatParameter, value: object, host: object) -> _Field:
    options = [("(not set)", "")]
    options += [(f"{r.name}: {r.host}", code) for code, r in lsq_regions.REGIONS.items()]
    options.append(("custom host…", CUSTOM_HOST))
    code = str(value or "").strip().lower()
    if code not in lsq_regions.REGIONS:
        code = CUSTOM_HOST if str(host or "").strip() else ""
    return _RegionField(param, widgets.Dropdown(options=options, value=code, **_described(param)))


def _flag_field(param: p.FlatParameter, value: object) -> _Field:
    checked = value if isinstance(value, bool) else str(value).strip().lower() in ("true", "yes", "on", "1")
    control = widgets.Checkbox(value=checked, indent=False, **_described(param))
    return _Field(param, control)


def _scenario_field(param: p.FlatParameter, value: object) -> _Field:
    """The practice org to borrow, picked from the sandbox's scenarios (each shown with its summary)."""
    from lsqsf_helpers.sandbox.scenarios import SCENARIOS

    current = str(value or "").strip()
    options = [("(none: the org's own credentials)", "")]
    options += [(f"{name} \u2014 {spec.summary}", name) for name, spec in SCENARIOS.items()]
    if current and current not in SCENARIOS:
        options.append((f"{current} (not a practice org of this sandbox)", current))
    control = widgets.Dropdown(
        options=options, value=current, layout=widgets.Layout(width="60em"), **_described(param)
    )
    field = _Field(param, control, VALIDATORS.get(param.name))
    field.validate()
    return field


def _build_field(param: p.FlatParameter, flat: dict[str, Any], *, sandbox: bool = False) -> _Field:
    value = flat.get(param.name, param.default)
    if param.name == "sandbox_scenario" and sandbox:
        return _scenario_field(param, value)
    if param.type is bool:
        return _flag_field(param, value)
    if param.secret:
        return _secret_field(param, value)
    if param.name == "sf_auth":
        return _auth_field(param, value)
    if param.name == "lsq_region":
        return _region_field(param, value, flat.get("lsq_host"))
    return _text_field(param, value)


class _Form:
    """The settings form's behaviour: visibility rules, "Use these settings", the apply switch."""

    def __init__(self, run: NotebookRun) -> None:
        self.run = run
        self.fields = {
            param.name: _build_field(param, run.flat_params, sandbox=bool(run.sandbox_url))
            for param in p.FLAT_PARAMETERS
        }
        self.status = widgets.HTML("").add_class("lsqsf-form-status")
        self.use = widgets.Button(
            description="Use these settings",
            button_style="primary",
            tooltip="validate the settings and use them for the next checks",
            layout=widgets.Layout(width="auto"),
        ).add_class("lsqsf-use")
        self.use.on_click(lambda _button: self.submit())
        self.apply = widgets.Checkbox(
            value=run.apply,
            description="Apply mode: fix what the APIs allow",
            indent=False,
            layout=widgets.Layout(width="auto"),
        ).add_class("lsqsf-apply")
        self.apply.observe(lambda change: self.set_apply(bool(change["new"])), names="value")
        self.fields["sf_auth"].control.observe(lambda _change: self.arrange(), names="value")
        self.fields["lsq_region"].control.observe(lambda _change: self.arrange(), names="value")
        self.arrange()

    def rows(self) -> list[Any]:
        rows: list[Any] = []
        section = ""
        for name, field in self.fields.items():
            title = SECTIONS.get(name.split("_")[0], "Practice sandbox")
            if title != section:
                rows.append(widgets.HTML(f"<b>{html.escape(title)}</b>"))
                section = title
            rows.append(field.row)
        return [*rows, widgets.HBox([self.use, self.apply]), self.status]

    def arrange(self) -> None:
        """Show only the credential rows of the chosen auth mode, and the host row for a custom host."""
        auth = self.fields["sf_auth"].control.value
        for name, modes in AUTH_FIELDS.items():
            _shown(self.fields[name].row, auth in modes)
        _shown(self.fields["lsq_host"].row, self.fields["lsq_region"].control.value == CUSTOM_HOST)

    def submit(self) -> None:
        flat = {name: field.value() for name, field in self.fields.items()}
        typed = {field.param.path: field.typed() for field in self.fields.values() if field.typed()}
        try:
            self.run.configure(flat, typed)
        except UsageError as exc:
            field = self.fields.get(exc.field)
            if field is not None:
                field.show_error(str(exc))
            self.status.value = _message_html(f"Not used: {exc}", ERROR_COLOR)
            return
        finally:
            typed.clear()
        for field in self.fields.values():
            if isinstance(field, _SecretField):
                if field.typed():
                    field.control.value = "prompt"  # what the run now holds for this field
                field.password.value = ""  # used: keep it out of the widget state from now on
            field.clear_error()
        self.status.value = _message_html(f"Settings in use for {self.run.org.label}.", COLORS[Status.OK][1])

    def set_apply(self, apply: bool) -> None:
        self.run.set_apply(apply)  # the run tells every panel and the checklist


def runbook_form(run: NotebookRun) -> Any:
    """The org's settings, prefilled from the run, validated as they are typed, used on request."""
    form = _Form(run)
    return _Panel("runbook form", form.rows()).add_class("lsqsf-form")


# ----- the checklist ----------------------------------------------------------------------------------
def _summary(results: dict[str, StepResult]) -> str:
    counts = {status: 0 for status in Status}
    for step_id in STEP_IDS:
        if step_id in results:
            counts[results[step_id].status] += 1
    parts = [f"{n} {COLORS[status][2]}" for status, n in counts.items() if n]
    pending = sum(1 for step_id in STEP_IDS if step_id not in results)
    if pending:
        parts.append(f"{pending} pending")
    return "Checklist: " + ", ".join(parts)


def checklist(run: NotebookRun) -> Any:
    """Every step's status, updated as results arrive, with a one-line count per status."""
    summary = widgets.HTML("").add_class("lsqsf-checklist-summary")
    table = widgets.HTML("").add_class("lsqsf-checklist-table")

    def refresh(_result: StepResult | None = None) -> None:
        table.value = run.checklist()._repr_html_()
        summary.value = f"<b>{html.escape(_summary(run.results))}</b>"

    check_all = widgets.Button(
        description="Check every step", tooltip="check all steps in order; changes nothing"
    )
    check_all.add_class("lsqsf-check-all")

    def check_every_step(_button: Any) -> None:
        try:
            run.check_all()
        except LsqsfError as exc:
            summary.value = _message_html(str(exc), ERROR_COLOR)

    check_all.on_click(check_every_step)
    refresh()
    run.subscribe(refresh)
    run.subscribe_changes(refresh)
    return _Panel("checklist", [summary, check_all, table]).add_class("lsqsf-checklist-widget")


# ----- one step's controls ----------------------------------------------------------------------------
class _StepControls:
    """Badge, Check, and (for fixable steps, in apply mode) Fix with a confirmation."""

    def __init__(self, run: NotebookRun, step_id: str, *, show_result: bool = False) -> None:
        self.run, self.step_id = run, step_id
        self.settings = run.org  # the settings the shown result is about
        step = STEPS_BY_ID[step_id]
        self.badge = widgets.HTML("").add_class("lsqsf-step-badge")
        title = widgets.HTML(f"<b>{html.escape(step.title)}</b> <code>{html.escape(step_id)}</code>")
        self.check = self._button("Check", f"check {step_id}; changes nothing", "lsqsf-check", "")
        self.result = widgets.HTML("").add_class("lsqsf-step-result")
        if show_result and step_id in run.results:
            self.result.value = StepView(run.results[step_id])._repr_html_()
        self.buttons = [self.check]
        self.fix: Any = None
        self.confirm_box: Any = None
        self.asking = False  # the confirmation is open
        head: list[Any] = [self.badge, title, self.check]
        if run.can_fix(step_id):
            self.fix = self._button("Fix", f"fix {step_id} in the org (asks first)", "lsqsf-fix", "warning")
            self.question = widgets.HTML("").add_class("lsqsf-confirm-question")
            confirm = self._button("Confirm", "make the change", "lsqsf-confirm", "danger")
            cancel = self._button("Cancel", "change nothing", "lsqsf-cancel", "")
            self.fix.on_click(lambda _b: self.ask())
            confirm.on_click(lambda _b: self.confirmed())
            cancel.on_click(lambda _b: self.cancelled())
            self.confirm_box = widgets.HBox([self.question, confirm, cancel]).add_class("lsqsf-confirm-box")
            self.buttons += [self.fix, confirm, cancel]
            head.append(self.fix)
        self.check.on_click(lambda _b: self.act(self.run.check))
        self.children = [widgets.HBox(head), *([self.confirm_box] if self.confirm_box else []), self.result]
        run.subscribe(self.arrived)
        run.subscribe_changes(self.refresh)
        self.refresh()

    @staticmethod
    def _button(label: str, tooltip: str, css: str, style: str) -> Any:
        return widgets.Button(description=label, tooltip=tooltip, button_style=style).add_class(css)

    def refresh(self) -> None:
        if self.run.org is not self.settings:  # new settings: the result shown was about the old ones
            self.settings = self.run.org
            self.result.value = ""
        found = self.run.results.get(self.step_id)
        self.badge.value = badge_html(found.status) if found else pending_badge_html()
        if self.fix is not None:
            if not self.run.apply:
                self.asking = False
            _shown(self.fix, self.run.apply)
            _shown(self.confirm_box, self.asking)
            self.fix.disabled = not self.run.apply or self.asking

    def arrived(self, result: StepResult) -> None:
        if result.step == self.step_id:
            self.badge.value = badge_html(result.status)

    def ask(self) -> None:
        if not self.run.apply:
            self.show_error(UsageError("fixes need apply mode", remedy="switch apply mode on first"))
            return
        what = self.run.fix_summary(self.step_id)
        self.question.value = html.escape(f"This will change the org: {what}. Continue?")
        self.asking = True
        self.refresh()

    def confirmed(self) -> None:
        self.asking = False
        self.refresh()  # close the question now, not only once the fix has come back
        self.act(self.run.fix)

    def cancelled(self) -> None:
        self.asking = False
        self.refresh()
        self.result.value = MessageView("Cancelled: nothing was changed.")._repr_html_()

    def act(self, action: Callable[[str], StepResult]) -> None:
        """Run a check or a fix; any error is shown here (a widget callback must not raise)."""
        for button in self.buttons:
            button.disabled = True
        try:
            outcome = action(self.step_id)
        except LsqsfError as exc:
            self.show_error(exc)
        except Exception as exc:  # a bug, but the admin should see it rather than a silent button
            self.result.value = MessageView(
                f"Unexpected error (please report it): {type(exc).__name__}: {exc}", Status.FAILED
            )._repr_html_()
        else:
            self.result.value = StepView(outcome)._repr_html_()
        finally:
            for button in self.buttons:
                button.disabled = False
            self.refresh()

    def show_error(self, exc: LsqsfError) -> None:
        self.result.value = MessageView(str(exc), Status.FAILED)._repr_html_()


def step_panel(run: NotebookRun, step_id: str, *, show_result: bool = False) -> Any:
    """One step's controls: status badge, Check, and Fix (with confirmation) where a fix exists.

    With `show_result`, the panel also shows the step's latest result (the trainee app's notebook has
    no separate result output, so a result is never left behind when the settings change).
    """
    if step_id not in STEPS_BY_ID:
        raise UsageError(
            f"unknown step {step_id!r}", field="step_id", remedy=f"one of: {', '.join(STEP_IDS)}"
        )
    controls = _StepControls(run, step_id, show_result=show_result)
    panel = _Panel(f"step controls: {step_id}", controls.children)
    return panel.add_class("lsqsf-step-panel").add_class(f"lsqsf-step-panel-{step_id}")


__all__ = ["checklist", "runbook_form", "step_panel"]
