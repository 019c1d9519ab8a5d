"""The notebook widgets, driven from code as a person would in JupyterLab: set values, click buttons.

ipywidgets needs no frontend for this (`Button.click()` calls the Python handlers). Every test runs
against the real sandbox; the widgets are found by the CSS classes browser tests use as well.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from expectations import matrix
from sandboxkit import sandbox_calls

from lsqsf_helpers import sfid, ui
from lsqsf_helpers.errors import UsageError
from lsqsf_helpers.notebook import NotebookRun
from lsqsf_helpers.params import FLAT_PARAMETERS
from lsqsf_helpers.sandbox import Sandbox

BASE = {
    "org": "practice",
    "sandbox_scenario": "fresh",
    "connector_package_version_id": "04tFAKE0LSQ0001",
    "connector_namespace": "lsqfake",
}


# ----- helpers ----------------------------------------------------------------------------------------
def walk(widget: Any) -> Iterator[Any]:
    """The widget and every widget below it."""
    yield widget
    for child in getattr(widget, "children", ()):
        yield from walk(child)


def find_all(root: Any, css: str) -> list[Any]:
    return [w for w in walk(root) if css in getattr(w, "_dom_classes", ())]


def find(root: Any, css: str) -> Any:
    found = find_all(root, css)
    assert len(found) == 1, f"expected one widget with class {css}, found {len(found)}"
    return found[0]


def visible(widget: Any) -> bool:
    return bool(widget.layout.display != "none")


def row_of(form: Any, name: str) -> Any:
    """The box holding a field's input (a hidden field hides its whole row)."""
    control = find(form, f"lsqsf-field-{name}")
    return next(w for w in walk(form) if control in getattr(w, "children", ()))


def error_of(form: Any, name: str) -> str:
    return str(find(form, f"lsqsf-field-error-{name}").value)


def use(form: Any) -> str:
    find(form, "lsqsf-use").click()
    return str(find(form, "lsqsf-form-status").value)


def sandbox_org(sandbox: Sandbox, scenario: str) -> dict[str, Any]:
    orgs = requests.get(f"{sandbox.url}/_sandbox/orgs", timeout=30).json()["orgs"]
    return next(org for org in orgs if org["scenario"] == scenario)


def calls(sandbox: Sandbox) -> dict[str, Any]:
    return sandbox_calls(sandbox, timeout=30)


@pytest.fixture
def run(sandbox: Sandbox) -> NotebookRun:
    sandbox.app.reset()
    return NotebookRun(BASE, sandbox=sandbox.url, interactive=True)


@pytest.fixture
def apply_run(run: NotebookRun) -> NotebookRun:
    run.set_apply(True)
    return run


# ----- the form -----------------------------------------------------------------------------------------
def test_form_has_every_parameter_prefilled(run: NotebookRun) -> None:
    form = ui.runbook_form(run)
    for param in FLAT_PARAMETERS:
        find(form, f"lsqsf-field-{param.name}")
        find(form, f"lsqsf-field-error-{param.name}")
        assert bool(find_all(form, f"lsqsf-typed-{param.name}")) is param.secret, param.name
    assert find(form, "lsqsf-field-org").value == "practice"
    assert find(form, "lsqsf-field-connector_namespace").value == "lsqfake"
    assert find(form, "lsqsf-field-sandbox_scenario").value == "fresh"
    assert find(form, "lsqsf-field-sf_auth").value == "password"
    assert find(form, "lsqsf-field-connector_authenticated").value is False
    assert all(not error_of(form, p.name) for p in FLAT_PARAMETERS)
    assert find(form, "lsqsf-apply").value is False


def _bad_checksum() -> str:
    good = sfid.to18(BASE["connector_package_version_id"])
    return good[:-1] + ("A" if good[-1] != "A" else "B")


@pytest.mark.parametrize(
    ("name", "bad", "problem", "good"),
    [
        ("sf_login", "http://evil.example", "uses http://; only https:// is accepted", ""),
        ("connector_package_version_id", _bad_checksum(), "has a wrong checksum", "04tFAKE0LSQ0001"),
        ("connector_remote_site_name", "a__b", "must not contain two underscores", "LSQConnectorURL"),
        ("org", "Acme/Prod", "must not contain / or \\", "acme-prod"),
    ],
)
def test_bad_value_is_flagged_inline_and_refused(
    run: NotebookRun, name: str, bad: str, problem: str, good: str
) -> None:
    form = ui.runbook_form(run)
    field = find(form, f"lsqsf-field-{name}")
    field.value = bad
    assert name in error_of(form, name) and problem in error_of(form, name)
    assert "#c5221f" in (field.layout.border or "")

    status = use(form)
    assert "Not used" in status and problem in status
    assert problem in error_of(form, name)
    assert run.flat_params == BASE  # the run keeps its settings

    field.value = good
    assert error_of(form, name) == "" and field.layout.border is None
    assert "Settings in use" in use(form)
    assert run.flat_params[name] == good


def test_a_required_field_is_named_by_use_these_settings(run: NotebookRun) -> None:
    form = ui.runbook_form(run)
    find(form, "lsqsf-field-connector_namespace").value = ""
    assert error_of(form, "connector_namespace") == ""  # empty is not an inline error ...
    assert "is required" in use(form)  # ... but the run needs it
    assert "connector_namespace: is required" in error_of(form, "connector_namespace")


def test_a_secret_typed_as_reference_is_removed_from_the_form(run: NotebookRun) -> None:
    form = ui.runbook_form(run)
    reference = find(form, "lsqsf-field-sf_password")
    reference.value = "hunter2-not-a-ref"
    assert reference.value == ""
    assert "may be the secret itself" in error_of(form, "sf_password")
    assert "hunter2" not in json.dumps([w.get_state() for w in walk(form)], default=str)
    reference.value = "env:SF_PASSWORD"
    assert error_of(form, "sf_password") == ""


def test_credential_rows_follow_the_auth_mode(run: NotebookRun) -> None:
    form = ui.runbook_form(run)
    auth = find(form, "lsqsf-field-sf_auth")
    rows = {name: row_of(form, name) for name in ("sf_password", "sf_access_token")}
    assert visible(rows["sf_password"]) and not visible(rows["sf_access_token"])
    auth.value = "access_token"
    assert not visible(rows["sf_password"]) and visible(rows["sf_access_token"])


def test_custom_lsq_host(run: NotebookRun) -> None:
    form = ui.runbook_form(run)
    region, host = find(form, "lsqsf-field-lsq_region"), find(form, "lsqsf-field-lsq_host")
    host_row = row_of(form, "lsq_host")
    assert region.value == "" and not visible(host_row)
    region.value = "custom"
    assert visible(host_row)
    host.value = "api-us11.leadsquared.com.evil.example"
    assert "is not a LeadSquared API host" in error_of(form, "lsq_host")
    host.value = "api-us11.leadsquared.com"
    assert error_of(form, "lsq_host") == ""
    assert "Settings in use" in use(form)
    assert run.org.leadsquared.host == "api-us11.leadsquared.com"
    region.value = "in21"
    assert "Settings in use" in use(form)
    assert run.flat_params["lsq_region"] == "in21" and run.flat_params["lsq_host"] == ""


def test_typed_secrets_are_used_once_and_never_kept(run: NotebookRun, sandbox: Sandbox) -> None:
    fresh = sandbox_org(sandbox, "fresh")["salesforce"]
    form, board = ui.runbook_form(run), ui.checklist(run)
    panel = ui.step_panel(run, "prerequisites")
    find(form, "lsqsf-field-sf_auth").value = "password"
    find(form, "lsqsf-field-sf_username").value = fresh["username"]
    password, token = find(form, "lsqsf-typed-sf_password"), find(form, "lsqsf-typed-sf_security_token")

    # A wrong typed password is what the login uses: it fails.
    password.value, token.value = "Not-the-password-1", fresh["security_token"]
    assert "Settings in use" in use(form)
    assert password.value == "" and token.value == ""
    find(panel, "lsqsf-check").click()
    assert 'data-status="failed"' in find(panel, "lsqsf-step-result").value
    assert "INVALID_LOGIN" in find(panel, "lsqsf-step-result").value

    # The right one works; the references now say "prompt", the boxes are empty again.
    password.value, token.value = fresh["password"], fresh["security_token"]
    assert "Settings in use" in use(form)
    assert password.value == "" and token.value == ""
    assert find(form, "lsqsf-field-sf_password").value == "prompt"
    assert run.flat_params["sf_password"] == "prompt" and run.flat_params["sf_security_token"] == "prompt"
    find(panel, "lsqsf-check").click()
    shown = find(panel, "lsqsf-step-result").value
    assert 'data-status="ok"' in shown and fresh["username"] in shown

    for widget in [*walk(form), *walk(board), *walk(panel)]:
        state = json.dumps(widget.get_state(), default=str)
        for secret in (fresh["password"], fresh["security_token"]):
            assert secret not in state, widget
            assert secret not in repr(widget), widget


def test_a_field_error_from_the_run_lands_at_its_field(run: NotebookRun) -> None:
    form = ui.runbook_form(run)
    find(form, "lsqsf-field-sf_auth").value = "jwt"
    find(form, "lsqsf-field-sf_login").value = "https://acme.my.salesforce.com"
    find(form, "lsqsf-field-sandbox_scenario").value = ""
    find(form, "lsqsf-field-lsq_region").value = "sg"
    status = use(form)
    assert "sf_username: is required" in status
    assert "is required" in error_of(form, "sf_username")


# ----- checklist and step panels --------------------------------------------------------------------------
def test_check_shows_action_needed_with_remedy_and_checklist_follows(run: NotebookRun) -> None:
    board = ui.checklist(run)
    summary, table = find(board, "lsqsf-checklist-summary"), find(board, "lsqsf-checklist-table")
    assert "8 pending" in summary.value and "lsqsf-pending" in table.value

    prerequisites, install = ui.step_panel(run, "prerequisites"), ui.step_panel(run, "install_connector")
    assert "lsqsf-pending" in find(install, "lsqsf-step-badge").value
    find(prerequisites, "lsqsf-check").click()
    find(install, "lsqsf-check").click()
    shown = find(install, "lsqsf-step-result").value
    assert 'data-step="install_connector" data-status="action_needed"' in shown
    assert "What to do:" in shown and "install it for All Users" in shown
    assert "lsqsf-action_needed" in find(install, "lsqsf-step-badge").value

    assert "1 ok" in summary.value and "1 action needed" in summary.value and "6 pending" in summary.value
    assert (
        '<tr data-step="install_connector"><td><span class="lsqsf-badge lsqsf-action_needed"' in table.value
    )

    # A result arriving from elsewhere (the notebook cell) updates the panel's badge and the checklist.
    classic = ui.step_panel(run, "classic_view")
    run.check("classic_view")
    assert "lsqsf-action_needed" in find(classic, "lsqsf-step-badge").value
    assert "2 action needed" in summary.value

    # New settings forget the results: the checklist and badges go back to pending.
    assert "Settings in use" in use(ui.runbook_form(run))
    assert "8 pending" in summary.value
    assert "lsqsf-pending" in find(install, "lsqsf-step-badge").value


def test_fix_appears_only_in_apply_mode(run: NotebookRun) -> None:
    assert not find_all(ui.step_panel(run, "prerequisites"), "lsqsf-fix")
    panel = ui.step_panel(run, "classic_view")
    fix = find(panel, "lsqsf-fix")
    assert fix.description == "Fix"
    assert not visible(fix) and fix.disabled
    assert not visible(find(panel, "lsqsf-confirm-box"))

    form = ui.runbook_form(run)
    find(form, "lsqsf-apply").value = True
    assert run.apply is True
    assert visible(fix) and not fix.disabled
    find(form, "lsqsf-apply").value = False
    assert run.apply is False and not visible(fix)


def test_fix_in_check_only_mode_is_refused_in_the_panel(run: NotebookRun) -> None:
    panel = ui.step_panel(run, "classic_view")
    find(panel, "lsqsf-fix").click()  # a stale browser view could still send the click
    assert "fixes need apply mode" in find(panel, "lsqsf-step-result").value
    find(panel, "lsqsf-confirm").click()  # even the confirmation: the run refuses, the panel shows it
    assert "fixes need apply mode" in find(panel, "lsqsf-step-result").value


def test_cancel_changes_nothing(apply_run: NotebookRun, sandbox: Sandbox) -> None:
    run = apply_run
    run.check("prerequisites")
    panel = ui.step_panel(run, "classic_view")
    find(panel, "lsqsf-check").click()
    assert 'data-status="action_needed"' in find(panel, "lsqsf-step-result").value

    find(panel, "lsqsf-fix").click()
    box = find(panel, "lsqsf-confirm-box")
    question = find(panel, "lsqsf-confirm-question").value
    assert visible(box) and question.startswith("This will change the org: switch the logged-in user")
    assert question.endswith("Continue?")
    assert find(panel, "lsqsf-fix").disabled
    before = calls(sandbox)["total"]
    find(panel, "lsqsf-cancel").click()
    assert not visible(box) and "nothing was changed" in find(panel, "lsqsf-step-result").value
    assert calls(sandbox)["total"] == before

    find(panel, "lsqsf-check").click()
    assert 'data-status="action_needed"' in find(panel, "lsqsf-step-result").value
    # a read composite call is a POST the sandbox marks `read`; a login changes nothing either
    writes = [c for c in calls(sandbox)["calls"] if not c["read"] and c["api"] != "sf.login"]
    assert writes == []


def test_confirm_fixes_classic_view(apply_run: NotebookRun, sandbox: Sandbox) -> None:
    run = apply_run
    run.check("prerequisites")
    board = ui.checklist(run)
    panel = ui.step_panel(run, "classic_view")
    box = find(panel, "lsqsf-confirm-box")
    open_while_fixing: list[bool] = []  # sampled when the fix's result arrives, before the panel shows it
    run.subscribe(lambda result: open_while_fixing.append(visible(box)))
    find(panel, "lsqsf-fix").click()
    assert visible(box)
    find(panel, "lsqsf-confirm").click()
    assert open_while_fixing == [False]  # the question closed as soon as Confirm was pressed
    shown = find(panel, "lsqsf-step-result").value
    assert 'data-step="classic_view" data-status="ok"' in shown
    assert "UserPreferencesLightningExperiencePreferred: <code>True</code> &rarr; <code>False</code>" in shown
    assert "lsqsf-ok" in find(panel, "lsqsf-step-badge").value
    assert not visible(find(panel, "lsqsf-confirm-box"))
    assert "2 ok" in find(board, "lsqsf-checklist-summary").value
    assert [c for c in calls(sandbox)["calls"] if c["method"] == "PATCH"]
    assert run.check("classic_view").status.value == "ok"


def test_a_failing_run_is_shown_not_raised(run: NotebookRun) -> None:
    run.configure({**BASE, "sandbox_scenario": "no-such-scenario"})
    panel = ui.step_panel(run, "prerequisites")
    find(panel, "lsqsf-check").click()
    shown = find(panel, "lsqsf-step-result").value
    assert 'data-status="failed"' in shown and "no-such-scenario" in shown


def test_unknown_step_is_refused(run: NotebookRun) -> None:
    with pytest.raises(UsageError, match="unknown step"):
        ui.step_panel(run, "nope")


# ----- reprs (nbval compares text/plain) ------------------------------------------------------------------
def test_reprs_are_short_and_deterministic(run: NotebookRun) -> None:
    builders = {
        "<lsqsf runbook form>": lambda: ui.runbook_form(run),
        "<lsqsf checklist>": lambda: ui.checklist(run),
        "<lsqsf step controls: classic_view>": lambda: ui.step_panel(run, "classic_view"),
        "<lsqsf step controls: prerequisites>": lambda: ui.step_panel(run, "prerequisites"),
    }
    for expected, build in builders.items():
        first, second = build(), build()
        assert repr(first) == repr(second) == expected
        bundle = first._repr_mimebundle_()
        assert bundle["text/plain"] == expected
        assert first.model_id not in bundle["text/plain"]


def test_check_every_step_fills_the_checklist_like_lsqsf_check(run: NotebookRun) -> None:
    board = ui.checklist(run)
    assert "pending" in find(board, "lsqsf-checklist-table").value
    find(board, "lsqsf-check-all").click()
    statuses = {step: result.status.value for step, result in run.results.items()}
    assert statuses == matrix()["fresh"]  # the `fresh` row of docs/steps-matrix.md
    table = find(board, "lsqsf-checklist-table").value
    assert "pending" not in table and "action needed" in table
