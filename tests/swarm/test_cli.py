"""``resonance swarm`` and ``resonance experiment sync`` end to end (tiny sizes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resonance_engine.cli.main import main

MEASURE = "swarm.standin:standin_factory"


def test_swarm_command_prints_a_json_summary_and_writes_a_picture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "swarm",
            "--agents",
            "3",
            "--ticks",
            "12",
            "--size",
            "32",
            "--window",
            "4",
            "--steps-per-tick",
            "4",
            "--measure",
            MEASURE,
            "--exchange",
            "state",
            "--out",
            str(tmp_path),
            "--json",
            "--seed",
            "2",
            "--no-db",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ticks"] == 12 and summary["agents"] == 3
    assert summary["signature_bytes_per_tick"] == 3 * 64
    assert summary["state_bytes_per_tick"] == 3 * 32 * 32 * 4
    assert -1 <= summary["cs"] <= 1 and summary["missing_signatures"] == 0
    assert Path(summary["picture"]).stat().st_size > 1000


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["swarm", "--agents", "1"], "--agents"),
        (["swarm", "--measure", "nonexistent.module:f"], "measure"),
        (["swarm", "--measure", "no-colon"], "measure"),
        (["swarm", "--bus", "carrier-pigeon://x", "--measure", MEASURE], "unknown bus"),
        (["swarm", "--role", "agents", "--measure", MEASURE], "NATS"),
        (["swarm", "--coupling", "-1", "--measure", MEASURE, "--size", "32"], "coupling"),
    ],
)
def test_bad_swarm_arguments_exit_2_with_one_line(
    argv: list[str], words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*argv, "--out", str(tmp_path), "--quiet", "--no-db"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and words in err and "Traceback" not in err


def test_experiment_sync_writes_a_verdict_table_computed_from_the_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "experiment", "sync", "--agents", "3", "--size", "32", "--ticks", "16",
            "--warmup", "2", "--window", "8", "--seeds", "2", "--surrogates", "20",
            "--basin", "1", "--mfpt", "1", "--horizon", "8",
            "--strengths", "gain=0.5", "--strengths", "kuramoto=30",
            "--strengths", "ci-feedback=1", "--strengths", "common-drive=30",
            "--strengths", "diffusive=100", "--controllers", "none",
            "--measure", MEASURE, "--executor", "serial", "--out", str(tmp_path), "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    results = json.loads((tmp_path / "results.json").read_text())
    # --json prints the report's verdict table: one row per mechanism
    assert summary["verdicts"] == results["verdicts"]
    rows = {v["mechanism"]: v for v in summary["verdicts"]}
    assert list(rows) == ["gain", "kuramoto", "ci-feedback", "common-drive", "diffusive"]
    # bytes each mechanism needs, measured on the bus: 3 signatures, none, or field strips
    assert rows["gain"]["coupling_bytes_per_tick"] == 3 * 64
    assert rows["kuramoto"]["coupling_bytes_per_tick"] == 3 * 64  # still 64-byte signatures
    assert rows["common-drive"]["coupling_bytes_per_tick"] == 0
    assert rows["diffusive"]["coupling_bytes_per_tick"] == 3 * 2 * (13 + 32 * 4 * 4)
    assert rows["diffusive"]["full_state_bytes_per_tick"] == 3 * 32 * 32 * 4
    assert rows["kuramoto"]["state_exchange"] and not rows["gain"]["state_exchange"]
    # two seeds per K plus the shared K = 0 runs; the verdict follows the numbers
    assert len(results["runs"]) == 2 + 5 * 2
    for v in rows.values():
        holds = v["cs_min"] > 0.95 and v["p_max"] < 0.05
        assert (v["cs_above_claim"] and v["significant"]) == holds
        if not holds and v["mechanism"] != "common-drive":
            assert v["without_state_synchronization"].startswith("no")
        assert "basin_stability" in v and v["mfpt_escaped"] + v["mfpt_censored"] == 1
    report = (tmp_path / "report.md").read_text()
    for v in rows.values():
        verdict = "HOLDS" if v["cs_above_claim"] and v["significant"] else "DOES NOT HOLD"
        assert f"**{v['mechanism']}: CS > 0.95 {verdict}**" in report
        assert f"CS = {v['cs_mean']:.3f} +- {v['cs_sd']:.3f}" in report
    assert "coordination by signatures without state synchronization" in report
    for name in ("cs_vs_strength", "ci_best", "traffic"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000


def test_experiment_sync_rejects_unknown_mechanisms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["experiment", "sync", "--mechanisms", "gain,telepathy", "--out",
                 str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "telepathy" in err and err.count("\n") == 1


def test_bench_swarm_reports_every_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], nats_client: None
) -> None:
    code = main(
        [
            "bench",
            "swarm",
            "--agents",
            "3,5",
            "--window",
            "4",
            "--nats-signatures",
            "2000",
            "--swarm-agents",
            "2",
            "--swarm-size",
            "32",
            "--swarm-ticks",
            "2",
            "--measure",
            MEASURE,
            "--repeats",
            "1",
            "--json",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    results = json.loads(capsys.readouterr().out)
    assert results["signature encode+decode (us)"] > 0
    assert results["coordinator update, 5 agents (us/tick)"] > 0
    assert results["nats signatures received"] == 2000
    assert results["swarm ticks/s (2 agents 32x32)"] > 0
    assert results["swarm batched frame, all agents (CPU ms)"] >= 0
    assert results["swarm tick (CPU ms)"] > 0


def test_swarm_run_is_stored_in_agentdb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from resonance_engine.store import AgentDB

    db_path = tmp_path / "swarm.db"
    code = main(
        [
            "swarm",
            "--agents",
            "3",
            "--ticks",
            "10",
            "--size",
            "32",
            "--window",
            "4",
            "--steps-per-tick",
            "4",
            "--measure",
            MEASURE,
            "--coupling",
            "0",
            "--out",
            str(tmp_path),
            "--json",
            "--db",
            str(db_path),
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    db = AgentDB(db_path, readonly=True)
    run = db.run(summary["run_id"])
    assert run.status == "finished" and run.config["agents"] == 3
    ci_series = [s for s in db.series(run_id=run.run_id) if s.series_type == "ci"]
    assert sorted(s.agent_id for s in ci_series) == ["0", "1", "2"]
    assert all(db.count(s.series_id) == 10 for s in ci_series)
    (cs,) = [s for s in db.series(run_id=run.run_id) if s.series_type == "cs"]
    assert db.count(cs.series_id) >= 7  # NaN CS of the first ticks is skipped
    # K = 0: independent agents, so CS drops below 0.7 and the alert is stored too
    if summary["alerts"]:
        assert [a.kind for a in db.alerts(run_id=run.run_id)] == ["cs_low"] * summary["alerts"]


def test_swarm_command_over_a_nats_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], nats_server: object
) -> None:
    url = nats_server.url  # type: ignore[attr-defined]
    code = main(
        [
            "swarm",
            "--agents",
            "2",
            "--ticks",
            "6",
            "--size",
            "32",
            "--window",
            "4",
            "--steps-per-tick",
            "4",
            "--measure",
            MEASURE,
            "--bus",
            url,
            "--out",
            str(tmp_path),
            "--json",
            "--no-db",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ticks"] == 6 and summary["missing_signatures"] == 0
    assert summary["signature_bytes_per_tick"] == 2 * 64 and summary["signatures_lost"] == 0
