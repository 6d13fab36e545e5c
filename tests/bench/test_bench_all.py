"""``resonance bench all``: one JSON document with the machine and every benchmark's
figures; a failing benchmark is recorded and the others still run."""

from __future__ import annotations

import json

import pytest

from resonance_engine.bench import all as bench_all
from resonance_engine.bench import store as bench_store
from resonance_engine.cli.main import main


def test_bench_all_writes_one_document_with_machine_and_figures(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(
        bench_all.QUICK_ARGS, "solver",
        ["--sizes", "32", "--backends", "numpy,numba", "--repeats", "1", "--steps", "2"],
    )
    def broken(args: object) -> dict[str, object]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(bench_store, "run", broken)
    assert main(["bench", "all", "--only", "solver,store", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    machine = document["machine"]
    assert machine["cpus"] >= 1 and machine["versions"]["numpy"]
    assert len(machine["load average after (1, 5, 15 min)"]) == 3
    solver = document["benchmarks"]["solver"]
    assert solver["32 numpy ms/step"] > 0
    threads = machine["numba threads"]
    assert solver[f"32 numba {threads}T / plain stencil"] > 0
    assert solver[f"32 numba {threads}T / triad"] > 0
    assert solver["seconds"] > 0
    assert document["benchmarks"]["store"]["error"] == "RuntimeError: disk on fire"


def test_bench_all_refuses_an_unknown_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "all", "--only", "nope"]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "Traceback" not in err


def test_every_quick_argument_list_passes_the_checks() -> None:
    """bench all's quick sizes are valid values of each benchmark's checked options."""
    import importlib

    from resonance_engine.cli.bench import BENCHMARKS

    for name in BENCHMARKS:
        if name != "all":
            module = importlib.import_module(f"resonance_engine.bench.{name}")
            assert bench_all._parse(name, module).quiet
