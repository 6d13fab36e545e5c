"""``resonance bench store`` runs end to end on tiny sizes (no timing assertions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resonance_engine.cli.main import main


def test_bench_store_small(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "bench",
            "store",
            "--records",
            "2000",
            "--repeats",
            "1",
            "--buffers",
            "500",
            "--sizes",
            "300",
            "--queries",
            "3",
            "--span-hours",
            "4",
            "--dir",
            str(tmp_path),
            "--json",
        ]
    )
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    for key in (
        "raw records/s",
        "writer(buffer 500) add_many x4 / raw",
        "300 no window p50 ms",
        "300 1 h window p95 ms",
    ):
        assert result[key] > 0, key
    assert result["300 vectors per window (mean)"] == pytest.approx(75.0)
    assert list(tmp_path.iterdir()) == []  # temporary databases removed
