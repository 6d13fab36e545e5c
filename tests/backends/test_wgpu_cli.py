"""The CLI on the wgpu backend: ``resonance bench solver --backend wgpu`` reports what the
GPU benchmark asks for, and ``resonance run --backend wgpu`` runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from resonance_engine.bench.gpu import copy_bandwidth
from resonance_engine.cli.main import main


def test_bench_solver_on_wgpu_reports_rates_and_the_copy_ratio(
    wgpu_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["bench", "solver", "--backend", "wgpu", "--sizes", "32,48", "--gpu-steps", "4"]
        + ["--repeats", "1", "--json", "--quiet"]
    )
    assert code == 0
    results = json.loads(capsys.readouterr().out)
    assert results["wgpu adapter"] == wgpu_context.description
    for size in (32, 48):
        # the rates are measured (> 0); their ratios are the benchmark's own arithmetic,
        # which this test does not recompute: what it can check from outside is the
        # premise of the "12 B/cell" label, below
        assert results[f"{size} wgpu steps/s"] > 0
        assert results[f"{size} wgpu stencil GB/s (12 B/cell)"] > 0
        assert results[f"{size} copy GB/s (read+write)"] > 0
        assert results[f"{size} wgpu field finite after run"] is True


def test_the_wgpu_field_lives_in_two_buffers_so_a_step_moves_12_bytes_per_cell(
    wgpu_context: Any,
) -> None:
    """The benchmark reports stencil bandwidth as 12 B/cell (float32: read u[n], read
    u[n-1], write u[n+1] over u[n-1]). That is true only if the GPU state keeps two
    field buffers, not three, and steps them in place."""
    from resonance_engine import WaveSolver2D

    solver = WaveSolver2D(40, 24, dx=1.0, backend="wgpu", boundary="periodic")
    state: Any = solver._state
    assert [buffer.size for buffer in state._fields] == [40 * 24 * 4] * 2
    solver.set_gaussian_pulse(20, 12, 3.0)
    reference = WaveSolver2D(40, 24, dx=1.0, backend="numpy", boundary="periodic")
    reference.set_gaussian_pulse(20, 12, 3.0)
    for _ in range(3):  # u[n+1] lands in the buffer of u[n-1]: they alternate
        newest = state._newest
        solver.step(1)
        reference.step(1)
        assert state._newest == 1 - newest
        np.testing.assert_allclose(solver.u, reference.u, rtol=1e-5, atol=1e-6)


def test_copy_bandwidth_is_positive(wgpu_context: Any) -> None:
    assert copy_bandwidth(wgpu_context, 4096, repeats=1, copies=2) > 0


def test_run_on_wgpu_writes_summary_and_picture(
    wgpu_context: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["run", "--backend", "wgpu", "--size", "32", "--steps", "30", "--json", "--quiet"]
        + ["--out", str(tmp_path), "--no-db"]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["backend"] == "wgpu" and summary["steps"] == 30
    assert summary["energy"] > 0
    assert (tmp_path / "field.png").exists()


def test_run_on_wgpu_measures_like_numpy(
    wgpu_context: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summaries = {}
    for backend in ("numpy", "wgpu"):
        code = main(
            ["run", "--backend", backend, "--size", "48", "--steps", "60", "--json", "--quiet"]
            + ["--out", str(tmp_path / backend), "--no-db"]
        )
        assert code == 0
        summaries[backend] = json.loads(capsys.readouterr().out)
    for name in ("D", "G", "C", "tau", "CI"):
        for kind in ("final", "mean"):
            key = f"{name}_{kind}"
            want = summaries["numpy"][key]
            assert summaries["wgpu"][key] == pytest.approx(want, rel=1e-3, abs=1e-6), key


def test_bench_metrics_on_wgpu_reports_frames_per_second(
    wgpu_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["bench", "metrics", "--backend", "wgpu", "--sizes", "48", "--history", "2"]
        + ["--repeats", "1", "--json", "--quiet"]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["backend"] == "wgpu" and result["device"]
    assert result["48 wgpu frames/s"] > 0
    for name in ("D", "G", "C", "tau", "CI+means", "D shifted", "C local inward",
                 "tau recursive", "calibrated frame"):
        assert result[f"48 {name} ms"] > 0
    assert result["48 calibrated / seed frame"] > 0
