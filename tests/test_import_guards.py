"""Modules that always ship are imported without guards: a broken installation fails
loudly instead of silently charting RMS, changing sweep keys or refusing a feature."""

from __future__ import annotations

import argparse

import pytest

from resonance_engine.dist import RunOptions
from resonance_engine.swarm.measure import AnalyzerMeasure
from resonance_engine.web.chart_feeds import default_chart_feed


@pytest.fixture
def broken_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    """resonance_engine.metrics cannot be imported (a broken installation)."""
    monkeypatch.setitem(__import__("sys").modules, "resonance_engine.metrics", None)


def test_the_default_chart_feed_does_not_fall_back_to_rms(broken_metrics: None) -> None:
    with pytest.raises(ImportError):
        default_chart_feed()


def test_sweep_keys_do_not_depend_on_what_imports(broken_metrics: None) -> None:
    assert RunOptions().key_fields() == {"metrics": True, "frames": 20}


def test_the_swarm_measure_raises_the_import_error(broken_metrics: None) -> None:
    with pytest.raises(ImportError):
        AnalyzerMeasure()()


def test_serve_reports_only_a_missing_web_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from resonance_engine.cli import serve

    monkeypatch.setitem(__import__("sys").modules, "resonance_engine.web.runner", None)
    with pytest.raises(ImportError):
        serve.cmd_serve(argparse.Namespace())
    monkeypatch.setitem(__import__("sys").modules, "resonance_engine.swarm", None)
    with pytest.raises(ImportError):
        serve._swarm(argparse.Namespace(swarm=3, coupling=0.1), None)  # type: ignore[arg-type]
