"""The metrics picture of a run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from resonance_engine import WaveSolver2D
from resonance_engine.errors import MetricError
from resonance_engine.metrics import ComplexityAnalyzer, summarize_series
from resonance_engine.metrics.plots import save_metrics_png


def test_metrics_png_of_a_short_run(tmp_path: Path) -> None:
    solver = WaveSolver2D(64, 64, dx=1.0)
    solver.set_gaussian_pulse(32, 32, 3)
    analyzer = ComplexityAnalyzer()
    series = []
    for n in range(5):
        solver.step(4)
        series.append(analyzer.observe(solver, keep_fields=n == 4))  # fields: last only
    assert series[0].ci_field is None and series[-1].ci_field is not None
    path = save_metrics_png(solver.u, series, tmp_path / "metrics.png", "test")
    summary = summarize_series(series)
    assert summary["frames"] == 5 and summary["CI_final"] == series[-1].ci
    assert summary["D_mean"] == pytest.approx(np.mean([m.fractal_dim for m in series]))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_metrics_png_needs_fields(tmp_path: Path) -> None:
    m = ComplexityAnalyzer().update(np.random.default_rng(0).standard_normal((32, 32)))
    with pytest.raises(MetricError, match="keep_fields"):
        save_metrics_png(np.zeros((32, 32)), [m], tmp_path / "x.png")
    with pytest.raises(MetricError):
        save_metrics_png(np.zeros((32, 32)), [], tmp_path / "x.png")
