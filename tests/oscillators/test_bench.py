"""``resonance bench oscillators`` runs end to end on tiny sizes (no timing assertions)."""

from __future__ import annotations

import json

import pytest

from resonance_engine.bench.oscillators import small_world
from resonance_engine.cli.main import main


def test_bench_oscillators_small(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "oscillators", "--sizes", "200,3000", "--sparse-size", "500"]
    argv += ["--work", "2e4", "--repeats", "1", "--mi-seconds", "2", "--surrogates", "5"]
    code = main([*argv, "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    for key in (
        "all-to-all N=200 numba",
        "all-to-all N=3000 numpy",
        "small-world N=500 numba",
    ):
        rates = [v for k, v in result.items() if k.startswith(key) and k.endswith("osc-steps/s")]
        assert rates and all(r > 0 for r in rates)
    assert 4 * 500 <= result["small-world N=500 links"] <= 4 * 500 + 50
    assert result["MI 2 s at 1000 Hz, 5 surrogates (s)"] > 0
    assert result["MI binning numba / numpy"] > 0


def test_small_world_has_the_ring_and_the_shortcuts() -> None:
    graph = small_world(1000, seed=1)
    degree = graph.indptr[1:] - graph.indptr[:-1]
    assert degree.min() >= 4  # two neighbours on each side
    assert graph.data.sum() == 4 * 1000 + 100  # duplicates are summed into weights


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--sizes", "ten"),
        ("--sizes", "0"),
        ("--repeats", "0"),
        ("--work", "0"),
        ("--sparse-size", "-1"),
        ("--surrogates", "-1"),
        ("--mi-rate", "100"),
        ("--mi-seconds", "0.5"),
        ("--threads", "0"),
    ],
)
def test_bad_arguments_exit_2(flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "oscillators", flag, value]) == 2
    err = capsys.readouterr().err
    assert flag in err and len(err.strip().splitlines()) == 1
