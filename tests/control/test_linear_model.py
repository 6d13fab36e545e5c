"""fit_linear_model recovers a known system and reports a held-out error."""

from __future__ import annotations

import numpy as np
import pytest

from resonance_engine.control import fit_linear_model
from resonance_engine.errors import ControlError


def _simulate(rng, A, B, c, T, noise):
    X = np.zeros((T + 1, A.shape[0]))
    U = rng.normal(size=(T, B.shape[1]))
    for k in range(T):
        X[k + 1] = A @ X[k] + B @ U[k] + c + noise * rng.normal(size=A.shape[0])
    return X, U


A = np.array([[0.9, 0.2], [-0.1, 0.8]])
B = np.array([[0.5], [1.0]])
c = np.array([0.1, -0.2])


def test_recovers_A_B_and_offset_from_noisy_data(rng):
    X, U = _simulate(rng, A, B, c, 4000, 0.01)
    model = fit_linear_model(X, U)
    np.testing.assert_allclose(model.A, A, atol=0.01)
    np.testing.assert_allclose(model.B, B, atol=0.01)
    np.testing.assert_allclose(model.offset, c, atol=0.01)
    np.testing.assert_allclose(np.diag(model.residual_cov), 1e-4, rtol=0.1)
    # held-out one-step error is the noise level and far below persistence
    np.testing.assert_allclose(model.heldout_rmse, 0.01, rtol=0.1)
    assert np.all(model.heldout_rmse < 0.2 * model.heldout_baseline_rmse)


def test_several_trajectories_and_nan_rows(rng):
    runs = [_simulate(rng, A, B, c, 300, 0.0) for _ in range(3)]
    X0 = runs[0][0].copy()
    X0[50] = np.nan  # a dropped sample removes the two pairs that touch it
    model = fit_linear_model([X0, runs[1][0], runs[2][0]], [r[1] for r in runs], holdout=0)
    np.testing.assert_allclose(model.A, A, atol=1e-9)
    assert model.n_pairs == 900 - 2
    assert np.all(np.isnan(model.heldout_rmse))


def test_ridge_shrinks_the_coefficients(rng):
    X, U = _simulate(rng, A, B, c, 200, 0.05)
    plain, ridged = fit_linear_model(X, U), fit_linear_model(X, U, ridge=1e4)
    assert np.abs(ridged.A).sum() < 0.5 * np.abs(plain.A).sum()


def test_simulate_matches_the_model(rng):
    X, U = _simulate(rng, A, B, c, 100, 0.0)
    model = fit_linear_model(X, U, holdout=0)
    np.testing.assert_allclose(model.simulate(X[0], U), X, atol=1e-8)


def test_too_little_data_and_bad_shapes():
    with pytest.raises(ControlError, match="need at least 4"):
        fit_linear_model(np.zeros((3, 2)), np.zeros((2, 1)))
    with pytest.raises(ControlError, match="X must be"):
        fit_linear_model(np.zeros((3, 2)), np.zeros((3, 1)))
