"""The AgentDB writer: one run row per key, series, resuming, and the CLI's --db."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resonance_engine.cli.main import main
from resonance_engine.dist import (
    AgentDBResults,
    LocalExecutor,
    MemoryResults,
    RunResult,
    run_sweep,
)
from resonance_engine.dist.results import RUN_NAME_PREFIX
from resonance_engine.errors import StoreError
from resonance_engine.store import AgentDB

from .dist_helpers import small_plan


def test_agentdb_writer_stores_each_run_once_with_its_series(
    tmp_path: Path, reference_results: dict[str, RunResult]
) -> None:
    path = tmp_path / "sweep.db"
    plan = small_plan()
    with AgentDBResults(path) as writer:
        report = run_sweep(plan, LocalExecutor(0), writer)
    assert report.stored == 8
    with AgentDB(path, readonly=True) as db:
        runs = db.runs()
        assert len(runs) == 8
        keys = sorted(r.name.removeprefix(RUN_NAME_PREFIX) for r in runs)
        assert keys == sorted(reference_results)
        for run in runs:
            result = reference_results[run.name.removeprefix(RUN_NAME_PREFIX)]
            assert run.status == "finished" and run.seed == result.seed
            assert run.config == json.loads(json.dumps(result.config))
            assert run.summary["energy"] == result.energy
            assert RunResult.from_dict(run.summary["result"]) == result
            energy = db.series(run_id=run.run_id, series_type="energy")
            assert len(energy) == 1
            values = db.range_arrays(energy[0].series_id)
            assert list(values[1]) == pytest.approx(result.series["energy"])
    # a second sweep against the same database runs and stores nothing
    with AgentDBResults(path) as writer:
        again = run_sweep(plan, LocalExecutor(0), writer)
    assert again.skipped == 8 and again.stored == 0 and again.complete
    assert all(again.results[i] == report.results[i] for i in range(8))
    with AgentDB(path, readonly=True) as db:
        assert len(db.runs()) == 8


def test_a_half_written_run_of_an_interrupted_client_is_replaced(
    tmp_path: Path, reference_results: dict[str, RunResult]
) -> None:
    plan = small_plan()
    first = plan[1][0]
    with AgentDB(tmp_path / "sweep.db") as db:
        stale = db.create_run(first.config, first.seed, name=f"{RUN_NAME_PREFIX}{first.key}")
        with AgentDBResults(db) as writer:
            report = run_sweep(plan, LocalExecutor(0), writer)
        assert report.stored == 8 and report.skipped == 0
        runs = db.runs()
        assert len(runs) == 8 and all(r.status == "finished" for r in runs)
        assert stale not in {r.run_id for r in runs}
        assert sorted(r.name.removeprefix(RUN_NAME_PREFIX) for r in runs) == sorted(
            reference_results
        )


def test_cli_sweep_stores_in_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "cli.db"
    args = ["sweep", "--param", "damping=0.1,0.2", "--size", "48", "--steps", "10",
            "--executor", "serial", "--db", str(db), "--json", "--out", str(tmp_path)]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["stored"] == 2 and first["db"] == str(db)
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["stored"] == 0 and second["skipped_already_stored"] == 2
    assert [r["ci_final"] for r in second["rows"]] == [r["ci_final"] for r in first["rows"]]
    with AgentDB(db, readonly=True) as store:
        assert len(store.runs()) == 2


def test_two_identical_sweeps_at_once_store_each_run_once(
    tmp_path: Path, reference_results: dict[str, RunResult]
) -> None:
    path = tmp_path / "sweep.db"
    plan = small_plan()
    # both open the database before either has stored anything, as two commands at once
    with AgentDBResults(path) as first, AgentDBResults(path) as second:
        one = run_sweep(plan, LocalExecutor(0), first)
        two = run_sweep(plan, LocalExecutor(0), second)
    assert one.stored == 8 and two.stored == 0 and two.duplicates == 8 and two.complete
    with AgentDB(path, readonly=True) as db:
        runs = db.runs()
        assert len(runs) == 8 and all(r.status == "finished" for r in runs)
        assert sorted(db.run_for_key(k).run_id for k in reference_results) == sorted(
            r.run_id for r in runs
        )


class FailsOnce(MemoryResults):
    """A store whose write fails for the first result it gets."""

    def __init__(self) -> None:
        super().__init__()
        self.failed: str | None = None

    def write(self, result: RunResult) -> bool:
        if self.failed is None:
            self.failed = result.key
            raise StoreError("disk full")
        return super().write(result)


def test_a_failing_write_is_reported_for_its_run_and_the_sweep_goes_on(
    reference_results: dict[str, RunResult],
) -> None:
    store = FailsOnce()
    report = run_sweep(small_plan(), LocalExecutor(0), store)
    assert report.complete and report.stored == 7 and not report.failures
    assert [f.key for f in report.unstored] == [store.failed]
    assert "not stored" in str(report.unstored[0]) and "disk full" in str(report.unstored[0])
    assert report.summary()["not_stored"] == 1
