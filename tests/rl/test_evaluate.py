"""Held-out evaluation: paired differences and the tables that report them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resonance_engine.cli.train import PAIRED_COLUMNS, evaluation_markdown
from resonance_engine.rl.evaluate import (
    PAIRED_KEYS,
    EpisodeResult,
    paired_differences,
    summarize,
)


def _episode(condition: str, seed: int, cs: float, diff: float, order: float) -> EpisodeResult:
    return EpisodeResult(condition, seed, cs, cs, cs, 0.0, 0.0, diff, order)


#: (seed, policy's differenced CS, control's); the policy is higher on seeds 0 and 2.
DIFFS = [(0, 0.30, 0.10), (1, 0.05, 0.20), (2, 0.40, 0.00)]


@pytest.fixture
def results() -> list[EpisodeResult]:
    out = []
    for seed, mine, _ in DIFFS:
        out.append(_episode("policy", seed, 0.5, mine, 0.9))
    # the control's seeds in reverse order: pairs must be matched by seed, not position
    for seed, _, theirs in reversed(DIFFS):
        out.append(_episode("always lower gain", seed, 0.6, theirs, 0.5))
    out.append(_episode("always lower gain", 7, 0.6, 0.0, 0.5))  # no policy episode: skipped
    return out


def test_paired_differences_match_seeds_and_give_mean_se_and_count(
    results: list[EpisodeResult],
) -> None:
    (row,) = paired_differences(results)
    assert row["control"] == "always lower gain"
    d = np.array([mine - theirs for _, mine, theirs in DIFFS])
    assert row["cs_diff_episode_diff"] == pytest.approx(d.mean())
    assert row["cs_diff_episode_diff_se"] == pytest.approx(d.std(ddof=1) / math.sqrt(3))
    assert (row["cs_diff_episode_higher"], row["cs_diff_episode_n"]) == (2, 3)
    assert row["cs_episode_diff"] == pytest.approx(-0.1) and row["cs_episode_higher"] == 0
    assert row["order_final_diff"] == pytest.approx(0.4) and row["order_final_higher"] == 3
    assert set(PAIRED_KEYS) == {k for k, _ in PAIRED_COLUMNS}
    for key in PAIRED_KEYS:
        assert f"{key}_diff" in row and f"{key}_diff_se" in row


def test_evaluation_markdown_has_differenced_cs_and_r_for_each_subject(
    results: list[EpisodeResult],
) -> None:
    rows = summarize(results)
    by_name = {r["condition"]: r for r in rows}
    assert by_name["policy"]["cs_diff_episode"] == pytest.approx(0.25)
    assert by_name["always lower gain"]["order_final"] == pytest.approx(0.5)
    paired = paired_differences(results)
    single = evaluation_markdown(rows, [0, 1, 2], "swarm", paired)
    assert "| policy | +0.500 +- 0.000 |" in single
    mine = np.array([m for _, m, _ in DIFFS])
    assert f"| +0.250 +- {mine.std(ddof=1):.3f} | +0.900 +- 0.000 |" in single  # diff CS, R
    d = np.array([m - theirs for _, m, theirs in DIFFS])
    cell = f"{d.mean():+.3f} +- {d.std(ddof=1) / math.sqrt(3):.3f} (2/3)"
    expected = f"| always lower gain | -0.100 +- 0.000 (0/3) | -0.100 +- 0.000 (0/3) | {cell} |"
    assert f"{expected} +0.400 +- 0.000 (3/3) |" in single
    assert "Policy minus each control" in single
    # several subjects (benchmarks/rl_swarm_long.py with several policies): one table each
    both = evaluation_markdown(
        rows, [0, 1, 2], "swarm",
        {"policy": paired, "always lower gain": paired_differences(results, "always lower gain")},
    )
    assert both.count("minus each control") == 2 and "Always lower gain minus" in both
