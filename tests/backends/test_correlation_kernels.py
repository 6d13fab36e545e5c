"""The compiled windowed-correlation kernel (the coordinator's CS) agrees with the numpy
reference and with numpy's corrcoef, constant and non-finite series left out."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resonance_engine.backends import correlation_kernels


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 12),
    count=st.integers(3, 40),
    groups=st.integers(1, 3),
    bad=st.sampled_from(["none", "constant", "nan"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_compiled_window_correlation_matches_numpy_and_corrcoef(
    n: int, count: int, groups: int, bad: str, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    buf = rng.normal(size=(count + 5, groups, n)) + rng.normal(size=(count + 5, groups, 1))
    if bad == "constant":
        buf[:, 0, 0] = 2.5
    elif bad == "nan":
        buf[count // 2, 0, n - 1] = np.nan
    ref_mean, ref_per = correlation_kernels("numpy").window_correlation(buf, count, True)
    mean, per = correlation_kernels("numba").window_correlation(buf, count, True)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(per, ref_per, rtol=1e-9, atol=1e-12)
    for g in range(groups):  # against numpy's corrcoef over the valid series
        window = buf[:count, g]
        ok = np.isfinite(window).all(axis=0) & (window.std(axis=0) > 1e-9)
        if ok.sum() < 2:
            assert np.isnan(mean[g])
            continue
        corr = np.corrcoef(window[:, ok].T)
        assert mean[g] == pytest.approx(corr[np.triu_indices(int(ok.sum()), 1)].mean(), abs=1e-9)
        others = (corr.sum(axis=1) - 1) / (ok.sum() - 1)
        np.testing.assert_allclose(per[g, ok], others, atol=1e-9)
        assert np.isnan(per[g, ~ok]).all()
