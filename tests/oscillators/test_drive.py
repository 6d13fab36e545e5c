"""Oscillator networks driving wave fields through the run loop, and the field feeding back."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resonance_engine import KuramotoNetwork, PointSource, WaveSolver2D, phase_locking_value
from resonance_engine.errors import ConfigError
from resonance_engine.loop import Callback, RunLoop
from resonance_engine.oscillators import OscillatorDrive, modulation_index


def pond(*sources: PointSource, damping: float = 2.0) -> WaveSolver2D:
    """A 1 m pond of 64 x 64 cells, c = 1 m/s, absorbing edges."""
    return WaveSolver2D(64, 64, dx=1 / 64, wave_speed=1.0, damping=damping, sources=sources)


def test_each_source_runs_through_its_oscillator_phase() -> None:
    solver = pond(PointSource(0.3, 0.5, 100.0, 1.0), PointSource(0.7, 0.5, 100.0, 1.0))
    net = KuramotoNetwork([20.0, 31.0], 4.0, dt=solver.dt * 2, seed=0, noise=0.5)
    drive = OscillatorDrive(net, solver, sources=[1, 0], interval=6)
    checks: list[float] = []

    def check(s: WaveSolver2D, t: float) -> None:
        argument_now = 2 * np.pi * s.drive_frequency[0] * t + s.drive_phase[0]
        span = 6 * s.dt
        argument_next = argument_now + 2 * np.pi * s.drive_frequency[0] * span
        theta_next = net.phases  # the network is one interval ahead
        checks.append(float(np.abs(argument_next[[1, 0]] - theta_next).max()))
        if previous:  # theta(t), computed at the previous update
            checks.append(float(np.abs(np.sin(argument_now[[1, 0]]) - np.sin(previous[0])).max()))
        previous[:] = [theta_next]

    previous: list[np.ndarray] = []
    RunLoop(solver, [drive, Callback(check, 6)], steps=300).run()
    assert len(checks) == 99 and max(checks) < 1e-9


def test_a_second_run_continues_the_drive() -> None:
    """Runs that stop between updates: each source's argument stays continuous and meets
    its oscillator's phase at the end of every interval."""
    solver = pond(PointSource(0.5, 0.5, 100.0, 1.0))
    net = KuramotoNetwork([25.0], 0.0, noise=1.0, dt=solver.dt, seed=2)
    drive = OscillatorDrive(net, solver, interval=5)
    gaps: list[float] = []

    def argument(s: WaveSolver2D, t: float) -> float:
        return float(2 * np.pi * s.drive_frequency[0, 0] * t + s.drive_phase[0, 0])

    def check(s: WaveSolver2D, t: float) -> None:
        gaps.append(abs(argument(s, t + 5 * s.dt) - float(net.phases[0])))

    old: list[float] = []
    new: list[float] = []
    RunLoop(solver, [drive], steps=7).run()  # stops 2 steps into an interval
    trackers = [
        Callback(lambda s, t: old.append(argument(s, t)), 5),  # before the drive's update
        drive,
        Callback(lambda s, t: new.append(argument(s, t)), 5),  # after it
        Callback(check, 5),
    ]
    RunLoop(solver, trackers, steps=13).run()
    assert solver.step_count == 20
    assert len(gaps) == 2 and max(gaps) < 1e-9
    np.testing.assert_allclose(new, old, rtol=0, atol=1e-9)  # no jump at the updates


def test_the_field_locks_two_oscillators_that_are_not_coupled_directly() -> None:
    """K = 0: the only coupling is through the pond (each reads the other's waves)."""
    results = {}
    for feedback in (0.0, 50.0):
        solver = pond(PointSource(0.4, 0.5, 200.0, 4.0), PointSource(0.6, 0.5, 200.0, 4.0))
        net = KuramotoNetwork(2 * np.pi * np.array([4.0, 4.1]), 0.0, dt=solver.dt * 5,
                              phases=[0.0, 2.0])  # fmt: skip
        phases: list[np.ndarray] = []

        def record(s: WaveSolver2D, t: float, net: KuramotoNetwork = net) -> None:
            phases.append(net.phases)  # noqa: B023 - used within this iteration only

        trackers = [
            OscillatorDrive(net, solver, interval=5, feedback=feedback),
            Callback(record, 5),
        ]
        RunLoop(solver, trackers, steps=8000).run()  # 70 s
        late = np.array(phases[len(phases) // 2 :])
        freq = (late[-1] - late[0]) / (2 * np.pi * (len(late) - 1) * 5 * solver.dt)
        results[feedback] = (phase_locking_value(late[:, 0], late[:, 1]), freq)
    plv_free, freq_free = results[0.0]
    plv_fed, freq_fed = results[50.0]
    assert plv_free < 0.3 and freq_free[1] - freq_free[0] == pytest.approx(0.1, abs=0.01)
    assert plv_fed > 0.95 and freq_fed[1] - freq_fed[0] == pytest.approx(0.0, abs=0.005)


@pytest.mark.parametrize("depth", [1.0, 0.0])
def test_a_slow_oscillator_nests_a_fast_source_in_the_field(depth: float) -> None:
    """The slow phase modulates the fast source: the field at a probe shows the nesting."""
    solver = pond(PointSource(0.3, 0.5, 200.0, 1.0), PointSource(0.6, 0.5, 200.0, 8.0), damping=1.0)
    slow = KuramotoNetwork([2 * np.pi * 1.0], 0.0, noise=1.0, dt=solver.dt, seed=1)
    drive = OscillatorDrive(slow, solver, sources=[0], interval=1, modulation=[(0, 1, depth)])
    probe: list[float] = []
    RunLoop(solver, [drive, Callback(lambda s, t: probe.append(float(s.u[32, 45])), 1)],
            steps=6800).run()  # fmt: skip
    fs = 1 / solver.dt
    mi, p = modulation_index(np.array(probe[500:]), fs, (0.5, 1.5), (5.0, 11.0),
                             surrogates=199, seed=0)  # fmt: skip
    if depth:
        assert p < 0.01 and mi > 0.01
    else:
        assert p > 0.05


def test_bad_drives_are_refused() -> None:
    solver = pond(PointSource(0.5, 0.5, 1.0, 1.0))
    with pytest.raises(ConfigError, match="divide"):
        OscillatorDrive(KuramotoNetwork([1.0], 0.0, dt=solver.dt * 0.7), solver)
    with pytest.raises(ConfigError, match="source index"):
        OscillatorDrive(KuramotoNetwork([1.0, 2.0], 0.0, dt=solver.dt), solver)
    with pytest.raises(ConfigError, match="depth"):
        OscillatorDrive(KuramotoNetwork([1.0], 0.0, dt=solver.dt), solver, modulation=[(0, 0, 2.0)])
    with pytest.raises(ConfigError, match="batch"):
        OscillatorDrive(KuramotoNetwork(np.zeros((2, 1)), 0.0, dt=solver.dt), solver)
    late = KuramotoNetwork([1.0], 0.0, dt=solver.dt)
    late.step(3)
    with pytest.raises(ConfigError, match="time"):
        RunLoop(solver, [OscillatorDrive(late, solver)], steps=2).run()
    assert math.isfinite(solver.t)
