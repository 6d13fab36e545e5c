"""KalmanFilter: steady-state covariance from the Riccati equation, missing data, likelihood."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from scipy.stats import multivariate_normal

from resonance_engine.control import KalmanFilter
from resonance_engine.errors import ControlError

A = np.array([[1.0, 0.1], [0.0, 0.95]])
H = np.array([[1.0, 0.0]])
Q = np.diag([1e-3, 1e-2])
R = np.array([[0.25]])


def test_covariance_converges_to_the_discrete_riccati_solution(rng):
    kf = KalmanFilter(A, H, Q, R, P0=10 * np.eye(2))
    for _ in range(300):
        kf.predict()
        prior = kf.P.copy()
        kf.update(rng.normal(size=1))
    # a priori steady state: the DARE of the dual (estimation) problem
    P_prior = scipy.linalg.solve_discrete_are(A.T, H.T, Q, R)
    S = H @ P_prior @ H.T + R
    P_post = P_prior - P_prior @ H.T @ np.linalg.solve(S, H @ P_prior)
    np.testing.assert_allclose(prior, P_prior, rtol=1e-8)
    np.testing.assert_allclose(kf.P, P_post, rtol=1e-8)


def test_tracks_a_simulated_system_within_its_own_covariance(rng):
    kf = KalmanFilter(A, H, Q, R, x0=[0.0, 0.0])
    x = np.array([1.0, -1.0])
    errors = []
    for _ in range(2000):
        x = A @ x + rng.multivariate_normal(np.zeros(2), Q)
        z = H @ x + rng.normal(scale=0.5, size=1)
        kf.step(z)
        errors.append((x - kf.x) @ np.linalg.solve(kf.P, x - kf.x))
    # normalised estimation error squared: chi^2 with 2 degrees of freedom, mean 2
    assert np.mean(errors[100:]) == pytest.approx(2.0, rel=0.15)


def test_nan_observation_skips_the_update():
    kf = KalmanFilter(A, H, Q, R)
    kf.predict()
    x, P = kf.x.copy(), kf.P.copy()
    kf.update([np.nan])
    np.testing.assert_array_equal(kf.x, x)
    np.testing.assert_array_equal(kf.P, P)
    assert kf.last_log_likelihood == 0.0


def test_partly_missing_observation_uses_the_seen_rows():
    H2 = np.eye(2)
    full = KalmanFilter(A, H2, Q, np.eye(2))
    part = KalmanFilter(A, H[:1], Q, np.eye(1))
    full.update([0.7, np.nan])
    part.update([0.7])
    np.testing.assert_allclose(full.x, part.x)
    np.testing.assert_allclose(full.P, part.P)


def test_log_likelihood_is_the_gaussian_density_of_the_innovations(rng):
    kf = KalmanFilter(A, H, Q, R, x0=[0.3, 0.0], P0=np.eye(2))
    total = 0.0
    for _ in range(5):
        kf.predict()
        mean, S = H @ kf.x, H @ kf.P @ H.T + R
        z = rng.normal(size=1)
        total += multivariate_normal(mean, S).logpdf(z)
        kf.update(z)
    assert kf.log_likelihood == pytest.approx(total, rel=1e-10)


def test_bad_shapes_and_inputs_are_clear_errors():
    with pytest.raises(ControlError, match="H must be"):
        KalmanFilter(A, np.eye(3), Q, R)
    kf = KalmanFilter(A, H, Q, R)
    with pytest.raises(ControlError, match="needs the input matrix B"):
        kf.predict([1.0])
    with pytest.raises(ControlError, match="z must have 1 entries"):
        kf.update([1.0, 2.0])


def test_a_batch_equals_independent_filters_with_missing_rows(rng):
    H2 = np.eye(2)
    batch = KalmanFilter(A, H2, Q, np.eye(2) * 0.3, B=[[0.0], [1.0]], batch=4)
    singles = [KalmanFilter(A, H2, Q, np.eye(2) * 0.3, B=[[0.0], [1.0]]) for _ in range(4)]
    for _ in range(6):
        z, u = rng.normal(size=(4, 2)), rng.normal(size=(4, 1))
        z[1] = np.nan  # one filter sees nothing
        z[2, 0] = np.nan  # one sees half
        batch.step(z, u)
        for k, f in enumerate(singles):
            f.step(z[k], u[k])
    for k, f in enumerate(singles):
        np.testing.assert_allclose(batch.x[k], f.x, rtol=1e-12)
        np.testing.assert_allclose(batch.P[k], f.P, rtol=1e-12)
        assert batch.log_likelihood[k] == pytest.approx(f.log_likelihood, rel=1e-12)
    with pytest.raises(ControlError, match=r"z must have shape \(4, 2\)"):
        batch.update(np.zeros(2))
