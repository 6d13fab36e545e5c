"""``resonance experiment measures``: the report's sentences follow its numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from resonance_engine.cli.main import main
from resonance_engine.metrics.experiment import (
    CLAIM_RANGE,
    MeasuresExperimentConfig,
    reference_fields,
    run_measures_experiment,
)


def test_reference_fields_have_their_spectra(rng: np.random.Generator) -> None:
    from resonance_engine import structure_factor

    fields = reference_fields(64, rng)
    assert structure_factor(fields["plane wave"]).peak_q == pytest.approx(2 * np.pi / 16, abs=0.1)
    sf = structure_factor(fields["smooth power-law"])
    keep = (sf.q > 0.2) & (sf.q < 2.0)
    slope = np.polyfit(np.log(sf.q[keep]), np.log(sf.S[keep]), 1)[0]
    assert slope == pytest.approx(-3.0, abs=0.4)


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("measures")
    cfg = MeasuresExperimentConfig(size=64, seeds=2, pond_steps=(300, 600))
    return run_measures_experiment(cfg, out), out


def test_report_states_what_the_numbers_say(experiment: tuple[dict, Path]) -> None:
    results, out = experiment
    text = (out / "report.md").read_text()
    v = results["verdicts"]
    lo, hi = CLAIM_RANGE
    d = {g: float(np.nanmean(row["D default"])) for g, row in results["per_field"].items()}
    inside = sorted(g for g, x in d.items() if lo <= x <= hi)
    assert v["fields_in_range"]["default"] == inside
    simple = ("plane wave", "white noise", "gaussian pulse", "smooth power-law")
    holds = all(lo <= d[g] <= hi for g in ("three waves", "pond")) and not any(
        lo <= d[g] <= hi for g in simple
    )
    assert v["claim_D_1.5_1.8_rich_structure_holds"] == holds
    assert ("**Yes.**" if holds else "**No.**") in text
    for picture in results["pictures"]:
        assert (out / picture).stat().st_size > 1000
        assert f"![{picture}]({picture})" in text
    # the calibrated C does not follow the amplitude; the seed's does
    assert v["C_amplitude_spread_default"] < 1e-4 < v["C_amplitude_spread_blueprint"]
    assert math.isfinite(v["tau_spread_resolved_default"])


def test_cli_writes_the_report_and_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["experiment", "measures", "--size", "64", "--seeds", "2", "--out",
                 str(tmp_path), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert Path(summary["report"]).exists()
    assert isinstance(summary["claim_D_1.5_1.8_rich_structure_holds"], bool)


def test_cli_rejects_bad_sizes(capsys: pytest.CaptureFixture) -> None:
    assert main(["experiment", "measures", "--size", "8"]) == 2
    assert "--size: must be an integer >= 64, got '8'" in capsys.readouterr().err


def test_the_interval_sweep_measures_through_the_run_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11, one run loop: the sweep of measuring intervals steps through RunLoop and
    gives the frames of stepping by hand."""
    from resonance_engine.config import default_pond
    from resonance_engine.loop import RunLoop
    from resonance_engine.metrics import ComplexityAnalyzer
    from resonance_engine.metrics.experiment import _interval_sweep

    runs = []
    original = RunLoop.run

    def counted(self: RunLoop) -> object:
        runs.append(self)
        return original(self)

    monkeypatch.setattr(RunLoop, "run", counted)
    out = _interval_sweep(16, 0)
    assert len(runs) == 2 * len(out["every"])
    solver = default_pond(16, seed=0).build()
    solver.step(400)
    analyzer = ComplexityAnalyzer()
    taus = []
    while solver.step_count < 1000:
        solver.step(40)
        taus.append(analyzer.observe(solver).dwell)
    assert out["default"]["tau"][-1] == pytest.approx(np.mean(taus[len(taus) // 2 :]), rel=1e-12)
