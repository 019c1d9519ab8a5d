"""`lsqsf train` without a browser: the trainee's notebook, Voilà's command line and config, the
command's input checks and Ctrl-C; and the widgets the trainee app relies on (scenario list, results
inside step panels)."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from browserkit import (
    LOOPBACK,
    START_TIMEOUT,
    Output,
    alive,
    children,
    command_line,
    free_port,
    listening_addresses,
    stop,
)

from lsqsf_helpers import cli, train, ui
from lsqsf_helpers.errors import UsageError
from lsqsf_helpers.notebook import NotebookRun
from lsqsf_helpers.sandbox import Sandbox
from lsqsf_helpers.sandbox.scenarios import SCENARIOS
from lsqsf_helpers.steps import STEP_IDS

BASE = {
    "org": "practice",
    "sandbox_scenario": "fresh",
    "connector_package_version_id": "04tFAKE0LSQ0001",
    "connector_namespace": "lsqfake",
}


def walk(widget: Any) -> Any:
    yield widget
    for child in getattr(widget, "children", ()):
        yield from walk(child)


def find(root: Any, css: str) -> Any:
    (found,) = [w for w in walk(root) if css in getattr(w, "_dom_classes", ())]
    return found


# ----- the trainee's notebook ---------------------------------------------------------------------------
def test_training_notebook_injects_the_scenario_and_shows_results_in_panels(tmp_path: Path) -> None:
    path = train.training_notebook("wrong-lsq-region", tmp_path)
    nb = nbformat.read(str(path), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert "widgets" not in nb.metadata

    injected = next(c for c in code if "injected-parameters" in c.metadata["tags"])
    assigned: dict[str, object] = {}
    exec(injected.source, {}, assigned)  # plain assignments of literals only
    assert assigned == {
        "sandbox_scenario": "wrong-lsq-region",
        "sandbox": "embedded",
        "interactive": True,
        "apply": False,
        "record_path": "",
    }
    assert code.index(injected) == 1  # right after the parameters cell, which is unchanged
    original = nbformat.read(str(train.RUNBOOK), as_version=4)
    assert code[0].source == next(c.source for c in original.cells if c.cell_type == "code")

    panels = [c.source for c in code if "ui.step_panel(" in c.source]
    assert panels == [
        f'from lsqsf_helpers import ui\n\nrun.check("{step}")\nui.step_panel(run, "{step}", show_result=True)'
        for step in STEP_IDS
    ]
    assert not any("run.step(" in c.source or "run.finish()" in c.source for c in code)
    assert code[-1].source.endswith("ui.checklist(run)")
    assert nb.cells[1].cell_type == "markdown" and nb.cells[1].source.startswith("## Practice mode")


def test_unknown_scenario_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown scenario 'nope'"):
        train.training_notebook("nope", tmp_path)
    assert not list(tmp_path.iterdir())


# ----- Voilà's command line and config ------------------------------------------------------------------
def test_voila_listens_on_loopback_with_sources_stripped(tmp_path: Path) -> None:
    command = train.voila_command(tmp_path / "training.ipynb", 8899)
    assert command[:3] == [sys.executable, "-m", "voila"]
    for option in (
        "--no-browser",
        f"--Voila.ip={LOOPBACK}",
        "--Voila.port=8899",
        "--Voila.port_retries=0",
        "--VoilaConfiguration.strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
    ):
        assert option in command
    assert not any("token" in part for part in command)  # the token is in voila.json, never on a command line


def test_the_token_file_is_private(tmp_path: Path) -> None:
    path = train.write_config(tmp_path / "config", "t0ken")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"Voila": {"token": "t0ken"}}


# ----- the command ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--scenario", "nope"], "--scenario: unknown scenario 'nope'"),
        (["train", "--port", "70000"], "--port: must be from 0 to 65535"),
    ],
)
def test_bad_input_exits_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == cli.EXIT_BAD_INPUT
    assert message in capsys.readouterr().err


def test_a_busy_port_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind((LOOPBACK, 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert cli.main(["train", "--port", str(port)]) == cli.EXIT_BAD_INPUT
    assert f"cannot listen on {LOOPBACK}:{port}" in capsys.readouterr().err


def test_ctrl_c_stops_voila_and_cleans_up() -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "lsqsf"), "train", "--port", str(port), "--scenario", "ready"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output = Output(process)
    try:
        url = output.wait_for(r"open (http://\S+)", START_TIMEOUT).group(1)
        assert url.startswith(f"http://{LOOPBACK}:{port}/?token=")
        assert listening_addresses(port) == {LOOPBACK}
        (voila,) = children(process.pid)
        notebook = next(arg for arg in command_line(voila) if arg.endswith(".ipynb"))
        folder = Path(notebook).parents[1]
        assert folder.name.startswith("lsqsf-train-") and stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stop(process, signal.SIGINT) == 0  # what Ctrl-C sends
        output.thread.join(10)
        assert "lsqsf train stopped." in output.text
        assert not alive(voila) and listening_addresses(port) == set()
        assert not folder.exists()  # the notebook copy and the token file are gone
    finally:
        stop(process)


# ----- widgets the trainee app relies on --------------------------------------------------------------------
def test_scenario_is_a_dropdown_of_practice_orgs_in_a_sandbox_run(sandbox: Sandbox) -> None:
    run = NotebookRun(BASE, sandbox=sandbox.url, interactive=True)
    field = find(ui.runbook_form(run), "lsqsf-field-sandbox_scenario")
    assert type(field).__name__ == "Dropdown" and field.value == "fresh"
    labels = dict((value, label) for label, value in field.options)
    assert list(labels) == ["", *SCENARIOS]
    for name, spec in SCENARIOS.items():
        assert labels[name] == f"{name} \u2014 {spec.summary}"

    outside = NotebookRun(BASE, interactive=True)  # no sandbox: the scenario is typed
    assert type(find(ui.runbook_form(outside), "lsqsf-field-sandbox_scenario")).__name__ == "Text"


def test_an_unknown_scenario_stays_selectable_and_is_flagged_by_the_run(sandbox: Sandbox) -> None:
    run = NotebookRun({**BASE, "sandbox_scenario": "retired-org"}, sandbox=sandbox.url, interactive=True)
    field = find(ui.runbook_form(run), "lsqsf-field-sandbox_scenario")
    assert field.value == "retired-org" and "not a practice org" in field.label
    panel = ui.step_panel(run, "prerequisites")
    find(panel, "lsqsf-check").click()
    assert "retired-org" in find(panel, "lsqsf-step-result").value


def test_a_panel_shows_its_result_until_the_settings_change(sandbox: Sandbox) -> None:
    sandbox.app.reset()
    run = NotebookRun(BASE, sandbox=sandbox.url, interactive=True)
    run.check("prerequisites")
    run.check("classic_view")
    panel = ui.step_panel(run, "classic_view", show_result=True)
    plain = ui.step_panel(run, "classic_view")
    assert 'data-status="action_needed"' in find(panel, "lsqsf-step-result").value
    assert find(plain, "lsqsf-step-result").value == ""  # the notebook shows it in the cell instead

    run.set_apply(True)  # apply mode keeps the results
    assert 'data-status="action_needed"' in find(panel, "lsqsf-step-result").value
    form = ui.runbook_form(run)
    find(form, "lsqsf-field-sandbox_scenario").value = "lightning"
    find(form, "lsqsf-use").click()
    assert find(panel, "lsqsf-step-result").value == ""
    assert "lsqsf-pending" in find(panel, "lsqsf-step-badge").value


def test_the_trainers_guide_has_an_exercise_per_scenario() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "training.md").read_text(encoding="utf-8")
    for name in SCENARIOS:
        assert f"### `{name}`:" in guide, f"docs/training.md has no exercise for {name}"
        section = guide.split(f"### `{name}`:", 1)[1].split("\n### ", 1)[0]
        for part in ("**What is broken:**", "**What to notice:**", "**How to fix:**", "**Done:**"):
            assert part in section, f"{name}: no {part}"
