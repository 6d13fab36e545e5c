"""``resonance bench rl``: env steps/s beside the bare solver of the same env, and where the
time of an env step goes; part of ``bench all``."""

from __future__ import annotations

import json

import pytest

from resonance_engine.bench import all as bench_all
from resonance_engine.bench.rl import time_calls
from resonance_engine.cli.main import main

TINY = ["--agents", "2", "--sizes", "16", "--steps-per-tick", "2", "--ticks", "2",
        "--repeats", "1", "--min-time", "0"]


def test_bench_rl_reports_throughput_ratio_and_shares(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "rl", *TINY, "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    for label, agents in (("swarm 2 agents 16^2", 2), ("field 16^2", 1)):
        env = figures[f"{label} env steps/s"]
        bare = figures[f"{label} bare solver ticks/s"]
        assert env > 0 and bare > 0
        assert figures[f"{label} env / bare solver"] > 0
        solver, measures = figures[f"{label} share solver"], figures[f"{label} share measures"]
        wrapper = figures[f"{label} share wrapper"]
        # the timers sit on the env's real solver and measure: both took some of its time
        assert 0 < solver < 1 and 0 < measures < 1
        assert solver + measures + wrapper == pytest.approx(1.0)
        if agents > 1:
            assert figures[f"{label} agent-steps/s"] == pytest.approx(agents * env)


def test_time_calls_adds_each_call_and_keeps_the_result() -> None:
    class Thing:
        def work(self, x: int) -> int:
            return 2 * x

    thing, totals = Thing(), {}
    time_calls(thing, "work", totals, "work")
    assert thing.work(3) == 6 and totals["work"] > 0


def test_bench_all_runs_the_rl_benchmark(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "rl" in bench_all.QUICK_ARGS
    monkeypatch.setitem(bench_all.QUICK_ARGS, "rl", [*TINY, "--no-field"])
    assert main(["bench", "all", "--only", "rl", "--json"]) == 0
    rl = json.loads(capsys.readouterr().out)["benchmarks"]["rl"]
    assert "error" not in rl, rl
    assert rl["swarm 2 agents 16^2 env steps/s"] > 0
    assert not any(k.startswith("field") for k in rl)


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--agents", "1"], "--agents: each value must be an integer >= 2, got '1'"),
     (["--sizes", "x"], "--sizes: each value must be an integer >= 16, got 'x'")],
)
def test_bad_arguments_are_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "rl", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
