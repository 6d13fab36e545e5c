"""``resonance bench control`` runs at a tiny size and reports every figure (no timing asserted)."""

from __future__ import annotations

import json

from resonance_engine.cli.main import main


def test_bench_control_reports_its_figures(tmp_path, capsys):
    code = main(["bench", "control", "--agents", "4", "--horizon", "3", "--evaluations", "20",
                 "--repeats", "1", "--no-pool", "--json", "--out", str(tmp_path)])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("kalman_us_per_agent", "mpc_batch_ms_per_tick", "mpc_single_h20_ms",
                "lmpc_solve_ms", "control_ticks_per_s", "optimizer_overhead_us_per_eval",
                "optimizer_over_pycma", "load_1min", "lmpc_agents_batch_ms_per_tick",
                "lmpc_agents_one_by_one_ms_per_tick", "lmpc_control_ticks_per_s"):
        assert key in out
    assert out["agents"] == 4 and out["lmpc_episodes"] == 3
    # the agents' LMPCs in one QP give what they give one by one
    assert out["lmpc_batch_max_input_difference"] < 1e-5
    # episodes needed on the fixed task (test_lmpc.py checks the count against the optimum)
    assert out["lmpc_task_episodes_to_0.5pct"] == 1 and out["lmpc_task_episodes_to_0.01pct"] == 2
