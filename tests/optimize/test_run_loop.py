"""The optimiser's simulations step through the one run loop (issue 11: one loop)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from resonance_engine.config import RunConfig, default_pond
from resonance_engine.loop import RunLoop
from resonance_engine.metrics import ComplexityAnalyzer
from resonance_engine.optimize.objectives import _run_means


def test_run_means_steps_through_run_loop_and_measures_every_frame(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = RunConfig(steps=40, simulation=default_pond(24)).model_dump()
    calls: list[Any] = []
    original = RunLoop.run

    def counted(self: RunLoop) -> Any:
        calls.append(self)
        return original(self)

    monkeypatch.setattr(RunLoop, "run", counted)
    means = _run_means(config, {"damping": 0.2}, seed=3, frames=4)
    assert len(calls) == 1
    # the same frames as stepping by hand: every 10 steps, 4 frames
    solver = RunConfig.model_validate({**config, "seed": 3}).simulation
    solver.damping = 0.2
    s = solver.build()
    analyzer = ComplexityAnalyzer()
    frames = []
    for _ in range(4):
        s.step(10)
        frames.append(analyzer.update(s.u, step=s.step_count, t=s.t))
    assert means["ci"] == pytest.approx(np.nanmean([f.ci for f in frames]), rel=1e-12)
    assert means["fractal_dim"] == pytest.approx(
        np.nanmean([f.fractal_dim for f in frames]), rel=1e-12
    )
