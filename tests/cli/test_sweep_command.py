"""``resonance sweep``: table, heatmap, CSV, JSON, failures and bad input."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from resonance_engine.cli.main import main


def _sweep(tmp_path: Path, *extra: str) -> list[str]:
    return ["sweep", "--size", "48", "--steps", "10", "--no-db", "--out", str(tmp_path), *extra]


def test_sweep_json_rows_picture_and_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        _sweep(tmp_path, "--param", "damping=0.1:0.3:3", "--param", "frequency=6,11",
               "--executor", "serial", "--json")
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["runs"] == summary["finished"] == 6 and summary["failed"] == 0
    rows = summary["rows"]
    assert [(r["damping"], r["frequency"]) for r in rows] == [
        (0.1, 6), (0.1, 11), (0.2, 6), (0.2, 11), (0.3, 6), (0.3, 11)
    ]
    assert all(r["status"] == "ok" for r in rows)
    assert Path(summary["picture"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(summary["table"], newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 6 and table[0]["damping"] == "0.1"


def test_sweep_with_a_config_file_and_a_failing_point(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "pond.toml"
    config.write_text(
        "steps = 12\n[simulation]\nnx = 20\nny = 16\ndx = 0.1\nboundary = 'fixed'\n"
        "[[simulation.sources]]\nx = 1.0\ny = 0.8\namplitude = 5.0\nfrequency = 2.0\n"
    )
    code = main(
        ["sweep", str(config), "--param", "dt=0.01,5.0", "--param", "frequency=2,4",
         "--executor", "serial", "--no-db", "--out", str(tmp_path), "--json"]
    )
    captured = capsys.readouterr()
    assert code == 1
    summary = json.loads(captured.out)
    assert summary["finished"] == 2 and summary["failed"] == 2
    assert {f["error"] for f in summary["failures"]} == {"CFLViolation"}
    assert sorted(f["params"]["frequency"] for f in summary["failures"]) == [2, 4]
    assert all(f["params"]["dt"] == 5.0 for f in summary["failures"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "dampin=0.1"], "unknown sweep parameter 'dampin'"),
        (["--param", "damping=0:1"], "bad range"),
        (["--param", "damping=0.1", "--executor", "spark"], "unknown executor"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code = main(_sweep(tmp_path, *args))
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_missing_config_file_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["sweep", str(tmp_path / "nope.toml"), "--param", "damping=0.1", "--no-db"])
    assert code == 2 and "does not exist" in capsys.readouterr().err


def test_sigterm_keeps_finished_runs_and_a_rerun_resumes(tmp_path: Path) -> None:
    from resonance_engine.errors import StoreError
    from resonance_engine.store import AgentDB

    db = tmp_path / "sweep.db"
    args = [sys.executable, "-m", "resonance_engine.cli.main", "sweep", "--param",
            "damping=0.1:0.6:6", "--size", "96", "--steps", "20000", "--executor", "local",
            "--workers", "2", "--db", str(db), "--json", "--out", str(tmp_path)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        stored = 0
        while stored == 0 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            if db.exists():
                try:
                    with AgentDB(db, readonly=True) as store:
                        stored = sum(1 for r in store.runs() if r.status == "finished")
                except StoreError:  # the sweep is still creating the schema
                    continue
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert out.strip(), f"no summary on stdout; rc={proc.returncode}; stderr: {err[-2000:]}"
    summary = json.loads(out)
    if summary["interrupted"]:
        assert proc.returncode == 130
        assert summary["cancelled"] == 6 - summary["finished"]
    with AgentDB(db, readonly=True) as store:
        names = [r.name for r in store.runs() if r.status == "finished"]
    assert len(names) == len(set(names)) == summary["stored"] == summary["finished"] >= 1
    # running the same sweep again only runs what is missing
    again = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    resumed = json.loads(again.stdout)
    assert resumed["skipped_already_stored"] == summary["finished"]
    assert resumed["stored"] == 6 - summary["finished"]
    with AgentDB(db, readonly=True) as store:
        runs = store.runs()
        assert len(runs) == 6 and all(r.status == "finished" for r in runs)


def test_swarm_basin_stability_runs_on_the_chosen_executor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["swarm", "--agents", "3", "--ticks", "8", "--size", "32", "--steps-per-tick", "2",
              "--window", "8", "--basin", "2", "--no-db", "--json", "--out", str(tmp_path)]
    assert main([*common, "--executor", "serial"]) == 0
    serial = json.loads(capsys.readouterr().out)
    assert main([*common, "--executor", "local", "--workers", "2"]) == 0
    pooled = json.loads(capsys.readouterr().out)
    assert serial["basin_stability"] == pooled["basin_stability"]
    assert main([*common, "--executor", "spark"]) == 2
    assert "unknown executor" in capsys.readouterr().err
