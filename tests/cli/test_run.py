"""``resonance run``: summary, picture, errors and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from resonance_engine.cli.main import main
from resonance_engine.store import AgentDB


def test_run_json_summary_pictures_and_stored_series(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db_path = tmp_path / "runs.db"
    argv = ["run", "--size", "48", "--steps", "30", "--metrics-every", "5", "--json"]
    code = main([*argv, "--out", str(tmp_path), "--db", str(db_path)])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["grid"] == "48x48" and summary["steps"] == 30 and summary["frames"] == 6
    assert summary["courant_number"] == pytest.approx(0.8)
    assert summary["energy"] > 0
    assert 0 < summary["D_final"] <= 2 and summary["CI_mean"] >= 0
    for key in ("picture", "metrics_picture"):
        picture = Path(summary[key])
        assert picture.exists() and picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    db = AgentDB(db_path, readonly=True)
    run = db.run(summary["run_id"])
    assert run.status == "finished" and run.seed == 0
    ci = db.range(db.series_id(run.run_id, "ci"))
    assert [p.value for p in ci][-1] == pytest.approx(summary["CI_final"], rel=1e-6)
    assert len(ci) == 6


def test_no_db_stores_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db_path = tmp_path / "runs.db"
    argv = ["run", "--size", "32", "--steps", "10", "--json", "--no-db", "--db", str(db_path)]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["run_id"] is None
    assert not db_path.exists()


def test_run_with_a_toml_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "pond.toml"
    config.write_text(
        "steps = 12\n[simulation]\nnx = 20\nny = 16\ndx = 0.1\nboundary = 'fixed'\n"
        "[[simulation.sources]]\nx = 1.0\ny = 0.8\namplitude = 5.0\nfrequency = 2.0\n"
    )
    argv = ["run", "--config", str(config), "--json", "--no-db", "--out", str(tmp_path)]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["grid"] == "20x16" and summary["boundary"] == "fixed" and summary["steps"] == 12


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["run", "--size", "4"], "needs size >= 16"),
        (["run", "--config", "missing.toml"], "does not exist"),
        (["run", "--backend", "cuda"], "invalid choice"),
        (["run", "--steps", "ten"], "--steps: must be an integer >= 0, got 'ten'"),
    ],
)
def test_errors_are_one_line_and_exit_2(
    argv: list[str], fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main([*argv, "--out", str(tmp_path), "--no-db"])
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 2
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err


def test_bad_toml_value_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[simulation]\ndamping = -1.0\n")
    assert main(["run", "--config", str(config), "--out", str(tmp_path), "--no-db"]) == 2
    err = capsys.readouterr().err
    assert "simulation.damping" in err and err.count("\n") == 1


def test_ctrl_c_stops_cleanly_and_still_writes_the_picture(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "resonance_engine.cli.main",
            "run",
            "--size",
            "256",
            "--steps",
            "1000000",
            "--json",
            "--out",
            str(tmp_path),
            "--db",
            str(tmp_path / "r.db"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    first_progress_line = proc.stderr.readline()  # printed once steps are being made
    assert "simulating" in first_progress_line
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    summary = json.loads(out)
    assert summary["interrupted"] is True and 0 < summary["steps"] < 1000000
    assert (tmp_path / "field.png").exists() and (tmp_path / "metrics.png").exists()
    assert "Traceback" not in err
    db = AgentDB(tmp_path / "r.db", readonly=True)
    run = db.run(summary["run_id"])
    assert run.status == "interrupted"
    assert len(db.range(db.series_id(run.run_id, "ci"))) == summary["frames"]


def test_json_summary_is_strict_json(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from resonance_engine.cli.common import print_summary

    args = argparse.Namespace(json=True, quiet=False)
    print_summary(args, "t", {"a": float("nan"), "b": [1.0, float("inf")], "c": 2})
    assert json.loads(capsys.readouterr().out) == {"a": None, "b": [1.0, None], "c": 2}
