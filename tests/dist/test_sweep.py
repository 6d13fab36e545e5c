"""Sweeps on the local executors: identical results, failures, worker loss, Ctrl-C, writers."""

from __future__ import annotations

import math
import operator
from pathlib import Path

import pytest

from resonance_engine.dist import (
    JsonlResults,
    LocalExecutor,
    MemoryResults,
    RunResult,
    parse_param,
    plan_sweep,
    resolve_executor,
    run_one,
    run_sweep,
    save_sweep_heatmap,
    sweep_rows,
)
from resonance_engine.errors import ConfigError, ExecutorError

from .dist_helpers import kill_later, small_plan


@pytest.fixture(scope="module")
def pool() -> LocalExecutor:
    with LocalExecutor(2) as executor:
        yield executor


def test_run_one_is_deterministic_and_reports_the_final_state() -> None:
    _, specs = small_plan()
    spec = specs[0]
    first = run_one(spec.config, spec.params, spec.seed, key=spec.key)
    second = run_one(spec.config, spec.params, spec.seed, key=spec.key)
    assert first == second and first.fingerprint() == second.fingerprint()
    assert first.key == spec.key and first.steps == 30 and first.params == spec.params
    assert first.energy > 0 and first.max_abs_u > 0
    assert first.series["step"][-1] == 30 and first.series["energy"][-1] == first.energy
    # a different configuration gives different numbers
    other = run_one(specs[1].config, specs[1].params, specs[1].seed)
    assert other != first and other.energy != first.energy


def test_executor_outcomes_report_failures_and_keep_the_others(pool: LocalExecutor) -> None:
    items = [(1, 2), (1, 0), (6, 3)]
    outcomes = sorted(pool.imap_unordered(operator.truediv, items), key=lambda o: o.index)
    assert [o.ok for o in outcomes] == [True, False, True]
    assert outcomes[0].value == 0.5 and outcomes[2].value == 2.0
    assert outcomes[1].failure is not None
    assert outcomes[1].failure.error_type == "ZeroDivisionError"
    assert "division by zero" in outcomes[1].failure.message
    assert "Traceback" in outcomes[1].failure.traceback
    assert pool.starmap(operator.truediv, [(1, 2), (6, 3)]) == [0.5, 2.0]
    with pytest.raises(ExecutorError, match=r"task 1 .*ZeroDivisionError"):
        pool.starmap(operator.truediv, items)


def test_pool_and_serial_give_the_reference_results(
    pool: LocalExecutor, reference_results: dict[str, RunResult]
) -> None:
    for executor in (pool, LocalExecutor(0)):
        writer = MemoryResults()
        report = run_sweep(small_plan(), executor, writer)
        assert report.complete and report.stored == 8 and not report.failures
        assert sorted(writer.writes) == sorted(reference_results)
        for key, result in writer.results.items():
            assert result == reference_results[key]
            assert result.energy == reference_results[key].energy


def test_a_failing_configuration_is_reported_with_its_parameters(pool: LocalExecutor) -> None:
    # dt = 1 s breaks the CFL limit of the 48x48 pond (about 0.015 s): the build raises
    plan = plan_sweep(
        None, [parse_param("dt=0.005,1.0"), parse_param("damping=0.1,0.2")], size=48, steps=20
    )
    writer = MemoryResults()
    report = run_sweep(plan, pool, writer)
    assert len(report.results) == 2 and len(report.failures) == 2
    assert {f.params["dt"] for f in report.failures} == {1.0}
    assert {f.params["damping"] for f in report.failures} == {0.1, 0.2}
    assert all(f.failure.error_type == "CFLViolation" for f in report.failures)
    assert all("largest stable dt" in f.failure.message for f in report.failures)
    assert len(writer.writes) == 2
    rows = sweep_rows(report)
    assert [r["status"].split(":")[0] for r in rows] == ["ok", "ok", "CFLViolation", "CFLViolation"]


def test_killed_pool_worker_is_replaced_and_every_run_stored_once(
    pool: LocalExecutor, reference_results: dict[str, RunResult]
) -> None:
    writer = MemoryResults()
    killed: list[int] = []

    def on_result(spec: object, result: object, failure: object) -> None:
        if not killed:
            pid = pool.worker_pids()[0]
            killed.append(pid)
            kill_later(pid).join()

    report = run_sweep(small_plan(), pool, writer, on_result=on_result)
    assert killed and killed[0] not in pool.worker_pids()
    assert report.complete and not report.failures and report.cancelled == 0
    assert len(writer.writes) == len(set(writer.writes)) == 8
    # the re-run tasks give the numbers a clean run gives
    assert writer.results == reference_results


def test_ctrl_c_cancels_outstanding_runs_and_keeps_finished_ones(pool: LocalExecutor) -> None:
    writer = MemoryResults()
    seen: list[str] = []

    def on_result(spec: object, result: RunResult | None, failure: object) -> None:
        assert result is not None
        seen.append(result.key)
        if len(seen) == 2:
            raise KeyboardInterrupt

    report = run_sweep(small_plan(), pool, writer, on_result=on_result)
    assert report.interrupted
    assert len(report.results) == 2 and report.cancelled == 6
    assert writer.writes == seen
    # the pool is usable again afterwards
    assert pool.starmap(operator.add, [(1, 2)]) == [3]


def test_jsonl_writer_resumes_and_never_stores_twice(
    tmp_path: Path, reference_results: dict[str, RunResult]
) -> None:
    path = tmp_path / "runs.jsonl"
    plan = small_plan()
    with JsonlResults(path) as writer:
        first = run_sweep(plan, LocalExecutor(0), writer)
    assert first.stored == 8
    path.write_text(path.read_text() + '{"key": "trunc')  # a write cut by a crash
    with JsonlResults(path) as writer:
        assert all(writer.get(k) == r for k, r in reference_results.items())
        again = run_sweep(plan, LocalExecutor(0), writer)
    assert again.skipped == 8 and again.stored == 0 and again.complete
    keys = [line.split('"key": "')[1][:16] for line in path.read_text().splitlines()[:-1]]
    assert sorted(keys) == sorted(reference_results)


def test_grid_points_with_the_same_configuration_run_once() -> None:
    # the second parameter overrides the first: both points are the same run
    plan = plan_sweep(
        None, [parse_param("damping=0.1,0.2"), parse_param("simulation.damping=0.3")],
        size=48, steps=10,
    )
    assert plan[1][0].key == plan[1][1].key
    writer = MemoryResults()
    report = run_sweep(plan, LocalExecutor(0), writer)
    assert report.complete and len(writer.writes) == 1
    assert report.results[0] is report.results[1]


def test_heatmap_png_is_written_with_missing_points(tmp_path: Path) -> None:
    plan = plan_sweep(
        None,
        [parse_param("dt=0.005,1.0"), parse_param("damping=0.1,0.2"), parse_param("seed=1,2")],
        size=48,
        steps=10,
    )
    report = run_sweep(plan, LocalExecutor(0), MemoryResults())
    grid = report.grid("energy")
    assert grid.shape == (2, 2, 2)
    assert math.isnan(grid[1, 0, 0]) and grid[0, 0, 0] > 0
    path = save_sweep_heatmap(report, tmp_path / "sweep.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_resolve_executor_names() -> None:
    assert resolve_executor("serial").name == "serial"
    local = resolve_executor("local", 3)
    assert isinstance(local, LocalExecutor) and local.workers == 3
    with pytest.raises(ConfigError, match="unknown executor"):
        resolve_executor("spark")
    with pytest.raises(ConfigError):
        LocalExecutor(-1)


@pytest.mark.parametrize("workers", [0, 2])
def test_submit_follows_the_concurrent_futures_convention(
    workers: int, pool: LocalExecutor
) -> None:
    executor = pool if workers else LocalExecutor(0)
    assert list(executor.map(operator.add, [1, 2], [3, 4])) == [4, 6]
    futures = [executor.submit(operator.truediv, a, b) for a, b in [(1, 2), (1, 0), (9, 3)]]
    assert futures[0].result(timeout=60) == 0.5 and futures[2].result(timeout=60) == 3.0
    with pytest.raises(ExecutorError, match="ZeroDivisionError: division by zero"):
        futures[1].result(timeout=60)
