"""``resonance db runs|show|similar|export``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from resonance_engine.cli.main import main
from resonance_engine.store import AgentDB, RunRecorder


@pytest.fixture
def stored_db(tmp_path: Path) -> Path:
    path = tmp_path / "runs.db"
    rng = np.random.default_rng(0)
    with AgentDB(path) as db:
        for seed in range(2):
            with RunRecorder.start(db, {"seed": seed}, seed=seed, name=f"r{seed}") as rec:
                for i in range(10):
                    field = rng.normal(size=(32, 32)) * (1 + i)
                    rec.record(
                        {
                            "fractal_dim": 1.5,
                            "gain": 0.1 * i,
                            "coherence": 0.4,
                            "dwell": 2.0,
                            "ci": 0.01 * i,
                            "t": 0.05 * i,
                        },
                        field,
                        step=i,
                    )
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_runs_and_show(stored_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "db", "runs", "--db", str(stored_db), "--json")
    runs = json.loads(out)
    assert code == 0 and [r["run_id"] for r in runs] == [2, 1]
    assert runs[0]["values"] == 50 and runs[0]["status"] == "finished"
    code, out, _ = run_cli(capsys, "db", "show", "1", "--db", str(stored_db), "--json")
    shown = json.loads(out)
    assert shown["run"]["name"] == "r0"
    gain = next(s for s in shown["series"] if s["type"] == "gain")
    assert gain["n"] == 10 and gain["last_s"] == pytest.approx(0.45)
    assert gain["max"] == pytest.approx(0.9)
    ci = next(s for s in shown["series"] if s["type"] == "ci")
    assert ci["fingerprints"] == 5  # 0.5 s in buckets of 0.1 s
    code, out, _ = run_cli(capsys, "db", "show", "1", "--db", str(stored_db))
    assert code == 0 and "fractal_dim" in out


def test_similar(stored_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys,
        "db",
        "similar",
        "1",
        "--at",
        "0.25",
        "--db",
        str(stored_db),
        "--json",
        "--max-distance",
        "2",
    )
    result = json.loads(out)
    assert code == 0 and result["query_bucket_t_s"] == pytest.approx(0.2)
    first = result["matches"][0]
    assert first["run_id"] == 1 and first["distance"] == pytest.approx(0, abs=1e-6)
    assert first["t_s"] == pytest.approx(0.2)
    distances = [m["distance"] for m in result["matches"]]
    assert distances == sorted(distances) and len(distances) == 10
    code, out, _ = run_cli(
        capsys,
        "db",
        "similar",
        "1",
        "--at",
        "0",
        "--other-runs",
        "--db",
        str(stored_db),
        "--json",
        "--max-distance",
        "2",
    )
    assert {m["run_id"] for m in json.loads(out)["matches"]} == {2}


def test_export_csv_and_parquet(
    stored_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], pyarrow
) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "run1.csv"
    code, _, _ = run_cli(capsys, "db", "export", "1", "--csv", str(target), "--db", str(stored_db))
    with open(target, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert code == 0 and len(rows) == 50
    gains = [float(r["value"]) for r in rows if r["series_type"] == "gain"]
    assert gains == pytest.approx([0.1 * i for i in range(10)])
    assert json.loads(rows[-1]["metadata"]) == {"step": 9}
    parquet = tmp_path / "run1.parquet"
    code, _, _ = run_cli(
        capsys, "db", "export", "1", "--parquet", str(parquet), "--db", str(stored_db)
    )
    table = pyarrow.parquet.read_table(parquet)
    assert code == 0 and table.num_rows == 50
    assert table.column("t_s").to_pylist()[:3] == pytest.approx([0.0, 0.05, 0.1])


def test_errors_are_one_line(
    stored_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["db", "runs", "--db", str(tmp_path / "none.db")],
        ["db", "show", "99", "--db", str(stored_db)],
        ["db", "similar", "1", "--at", "0", "--type", "gain", "--db", str(stored_db)],
    ):
        code, out, err = run_cli(capsys, *argv)
        assert code == 2 and out == ""
        assert err.startswith("resonance: error:") and err.count("\n") == 1


def test_export_refuses_to_write_onto_the_database(
    stored_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``db export 1 --csv sim.db --db sim.db`` replaced the database with a CSV."""
    before = stored_db.read_bytes()
    link = tmp_path / "link.db"
    link.symlink_to(stored_db)
    hard = tmp_path / "hard.db"
    hard.hardlink_to(stored_db)
    wal = tmp_path / "runs.db-wal"
    (tmp_path / "sub").mkdir()  # sub/.. names tmp_path only when sub exists
    for target, db in [
        (stored_db, stored_db),
        (link, stored_db),  # through a symbolic link
        (stored_db, link),
        (hard, stored_db),  # a hard link: same inode
        (tmp_path / "sub" / ".." / "runs.db", stored_db),
        (wal, stored_db),  # its journal
    ]:
        for flag in ("--csv", "--parquet"):
            for force in ([], ["--force"]):
                code, out, err = run_cli(
                    capsys, "db", "export", "1", flag, str(target), "--db", str(db), *force
                )
                assert code == 2 and out == "" and err.count("\n") == 1, (target, db, err)
                assert "database being read" in err
    assert stored_db.read_bytes() == before
    assert not wal.exists() or wal.stat().st_size == 0


def test_export_overwrites_only_with_force(
    stored_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "notes.csv"
    target.write_text("my notes\n")
    code, _, err = run_cli(
        capsys, "db", "export", "1", "--csv", str(target), "--db", str(stored_db)
    )
    assert code == 2 and "--force" in err and err.count("\n") == 1
    assert target.read_text() == "my notes\n"
    folder = tmp_path / "folder"
    folder.mkdir()
    code, _, err = run_cli(
        capsys, "db", "export", "1", "--csv", str(folder), "--db", str(stored_db)
    )
    assert code == 2 and "folder" in err
    # a failed export (run 99 does not exist) leaves the file as it was, even with --force
    code, _, _ = run_cli(
        capsys, "db", "export", "99", "--csv", str(target), "--db", str(stored_db), "--force"
    )
    assert code == 2 and target.read_text() == "my notes\n"
    code, _, _ = run_cli(
        capsys, "db", "export", "1", "--csv", str(target), "--db", str(stored_db), "--force"
    )
    assert code == 0 and target.read_text().startswith("run_id,agent_id")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_export_to_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    """``db export 1 --csv - | head -1`` printed a BrokenPipeError traceback."""
    import subprocess
    import sys

    from resonance_engine.store import MetricRecord

    stored_db = tmp_path / "big.db"
    with AgentDB(stored_db) as db:  # ~2 MB of CSV: far more than a pipe's buffer
        run = db.create_run({}, 0)
        series = db.series_id(run, "ci")
        db.insert([MetricRecord(series, 10**15 + i, 0.5) for i in range(40_000)])
    command = (
        f"{sys.executable} -m resonance_engine.cli.main db export 1 --csv - "
        f"--db {stored_db} | head -1"
    )
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=120
    )
    assert (
        result.stdout == "run_id,agent_id,series_type,series_name,timestamp_us,t_s,value,metadata\n"
    )
    assert result.stderr == "" and result.returncode == 0
