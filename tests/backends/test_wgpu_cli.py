"""The CLI on the wgpu backend: ``resonance bench solver --backend wgpu`` reports what the
GPU benchmark asks for, and ``resonance run --backend wgpu`` runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
        steps_per_s = results[f"{size} wgpu steps/s"]
        stencil = results[f"{size} wgpu stencil GB/s (12 B/cell)"]
        copy = results[f"{size} copy GB/s (read+write)"]
        assert steps_per_s > 0 and copy > 0
        assert stencil == pytest.approx(12 * size * size * steps_per_s / 1e9)
        assert results[f"{size} wgpu / copy bandwidth"] == pytest.approx(stencil / copy)
        assert results[f"{size} wgpu field finite after run"] is True


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
