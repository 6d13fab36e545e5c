"""A run whose data did not reach the database is stored ``failed``, with the reason."""

from __future__ import annotations

from pathlib import Path

import apsw
import pytest

from resonance_engine.cli.main import main
from resonance_engine.store import AgentDB, RunRecorder
from resonance_engine.store.batch import BatchWriter


def _disk_full(self: object, *args: object, **kwargs: object) -> None:
    raise apsw.FullError("database or disk is full")


def test_recorder_whose_writer_failed_marks_the_run_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = AgentDB(tmp_path / "runs.db")
    recorder = RunRecorder.start(db, {"steps": 1}, seed=0)
    monkeypatch.setattr(BatchWriter, "write", _disk_full)
    recorder.record({"ci": 0.5, "t": 0.0, "step": 0})
    with pytest.raises(Exception, match="disk is full|unwritten"):
        recorder.close("finished", {"steps": 1})
    run = db.run(recorder.run_id)
    assert run.status == "failed"
    assert "data not stored" in run.summary["error"] and run.summary["steps"] == 1


def test_run_command_stores_failed_when_its_data_was_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db_path = tmp_path / "runs.db"
    AgentDB(db_path).close()  # the schema is created before the disk "fills up"
    monkeypatch.setattr(BatchWriter, "write", _disk_full)
    argv = ["run", "--size", "32", "--steps", "20", "--metrics-every", "5", "--json"]
    code = main([*argv, "--out", str(tmp_path), "--db", str(db_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "resonance: error:" in err
    monkeypatch.undo()
    run = AgentDB(db_path, readonly=True).runs()[0]
    assert run.status == "failed" and "data not stored" in run.summary["error"]
