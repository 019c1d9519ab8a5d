"""`lsqsf batch --scheduler`: the same per-org tasks on a Dask distributed cluster (loopback only)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from batchkit import statuses
from expectations import notebook_expectation
from sandboxkit import leftovers, read_json, write_orgs

from lsqsf_helpers.cli import main
from lsqsf_helpers.sandbox import Sandbox

distributed = pytest.importorskip("distributed")

LABELS = ["fresh", "not-admin"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """Two single-thread workers in this process, talking TCP on 127.0.0.1: tasks are pickled as on a real cluster."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    ) as local:
        yield str(local.scheduler_address)


def run_batch(sandbox: Sandbox, orgs: Path, out: Path, *extra: str) -> dict[str, dict[str, str]]:
    assert main(["batch", str(orgs), "--out", str(out), "--sandbox", sandbox.url, *extra]) == 1
    return {label: statuses(read_json(out / label / "record.json")) for label in LABELS}


def test_a_dask_cluster_gives_the_same_results_as_the_local_pool(
    cluster: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.app.reset()
    orgs = write_orgs(tmp_path / "orgs.yaml", LABELS)
    on_dask = run_batch(sandbox, orgs, tmp_path / "dask", "--scheduler", cluster)
    local = run_batch(sandbox, orgs, tmp_path / "local", "--workers", "2")
    assert on_dask == local == {label: notebook_expectation(label) for label in LABELS}
    meta = read_json(tmp_path / "dask" / "batch.json")
    assert meta["scheduler"] == cluster
    assert meta["workers"] == 2  # the cluster's threads
    for label in LABELS:
        assert (tmp_path / "dask" / label / "notebook.ipynb").is_file()
    assert leftovers(tmp_path / "dask") == []
    summary = read_json(tmp_path / "dask" / "summary.json")
    assert sorted(org["org"] for org in summary["orgs"]) == sorted(LABELS)


def test_an_unreachable_scheduler_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    from lsqsf_helpers import batch

    monkeypatch.setattr(batch, "SCHEDULER_TIMEOUT", "1s")

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    orgs = write_orgs(tmp_path / "orgs.yaml", ["ready"])
    code = main(
        [
            "batch",
            str(orgs),
            "--out",
            str(tmp_path / "out"),
            "--sandbox",
            "--scheduler",
            f"tcp://127.0.0.1:{port}",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith(f"lsqsf: error: no Dask scheduler answered at tcp://127.0.0.1:{port}")
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()
