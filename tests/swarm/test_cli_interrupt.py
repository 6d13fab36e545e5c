"""``resonance swarm --basin N`` stopped by Ctrl-C / SIGTERM during the basin estimate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from resonance_engine.cli.main import main
from resonance_engine.store import AgentDB
from resonance_engine.swarm import basin

MEASURE = "swarm.standin:standin_factory"


def test_interrupted_basin_is_stored_interrupted_with_its_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt  # what the CLI raises on SIGINT and SIGTERM

    monkeypatch.setattr(basin, "basin_stability", interrupted)
    db_path = tmp_path / "swarm.db"
    argv = ["swarm", "--agents", "3", "--ticks", "6", "--size", "32", "--window", "4",
            "--steps-per-tick", "2", "--measure", MEASURE, "--basin", "4",
            "--executor", "serial", "--db", str(db_path), "--out", str(tmp_path), "--json"]
    assert main(argv) == 130
    summary = json.loads(capsys.readouterr().out)
    assert summary["interrupted"] is True and summary["basin_stability"] == "interrupted"
    assert summary["ticks"] == 6
    with AgentDB(db_path, readonly=True) as db:
        run = db.run(summary["run_id"])
        assert run.status == "interrupted" and run.summary["ticks"] == 6
        assert run.summary["basin_stability"] == "interrupted"
