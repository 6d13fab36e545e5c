"""KuramotoNetwork against the theory of the Kuramoto model."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import sparse

from resonance_engine import KuramotoNetwork, order_parameter, phase_locking_value
from resonance_engine.errors import ConfigError


def lorentzian_quantiles(n: int, half_width: float) -> np.ndarray:
    """n frequencies at the quantiles (k + 1/2)/n of a Lorentzian (rad/s)."""
    q = (np.arange(n) + 0.5) / n
    return half_width * np.tan(np.pi * (q - 0.5))


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_lorentzian_network_follows_the_self_consistent_order_parameter(backend: str) -> None:
    """Above K_c = 2g the stationary coherence is r = sqrt(1 - 2g/K) (Kuramoto 1975)."""
    g, n = 0.5, 4000
    couplings = np.array([1.5, 2.0, 3.0])
    omega = np.broadcast_to(lorentzian_quantiles(n, g), (3, n))
    net = KuramotoNetwork(omega, couplings, dt=0.02, seed=1, backend=backend)
    net.step(2000)  # t = 40 s: transients decay at rate ~ K/2 - g
    samples = []
    for _ in range(40):
        net.step(25)
        samples.append(net.order_parameter()[0])
    r = np.mean(samples, axis=0)
    np.testing.assert_allclose(r, np.sqrt(1 - 2 * g / couplings), atol=0.012)


def test_incoherent_network_decays_like_one_over_root_n() -> None:
    """Below K_c the coherence is a finite-size fluctuation: <r^2> = 1 / (N (1 - K/K_c))."""
    g, coupling, seeds = 0.5, 0.5, 4
    rms = {}
    for n in (250, 1000, 4000):
        rng = np.random.default_rng(n)
        omega = g * np.tan(np.pi * (rng.uniform(size=(seeds, n)) - 0.5))
        net = KuramotoNetwork(omega, coupling, dt=0.02, seed=n)
        net.step(500)
        r2 = []
        for _ in range(400):
            net.step(25)
            r2.append(net.order_parameter()[0] ** 2)
        rms[n] = math.sqrt(float(np.mean(r2)))
    sizes = np.array(sorted(rms))
    slope = np.polyfit(np.log(sizes), np.log([rms[n] for n in sizes]), 1)[0]
    assert slope == pytest.approx(-0.5, abs=0.1)
    theory = 1 / math.sqrt(1 - coupling / (2 * g))  # sqrt(2)
    for n in sizes:
        assert rms[n] * math.sqrt(n) == pytest.approx(theory, rel=0.2)


@pytest.mark.parametrize("lag", [0.0, 0.6])
def test_identical_oscillators_lock_and_turn_at_omega_minus_k_sin_alpha(lag: float) -> None:
    omega, coupling = 1.3, 1.0
    net = KuramotoNetwork(np.full(200, omega), coupling, phase_lag=lag, seed=3)
    net.step(3000)
    r, _ = net.order_parameter()
    assert r > 1 - 1e-9
    before = net.phases
    net.step(1000)  # 10 s; the self term i = j is part of the all-to-all sum
    rate = (net.phases - before) / 10.0
    np.testing.assert_allclose(rate, omega - coupling * math.sin(lag), rtol=1e-7)


def test_mean_field_equals_the_pairwise_sum(rng: np.random.Generator) -> None:
    """adjacency=None is exactly the all-ones matrix, computed in O(N)."""
    omega = rng.normal(0, 1, 60)
    phases = rng.uniform(0, 2 * np.pi, 60)
    a = KuramotoNetwork(omega, 2.0, phase_lag=0.4, phases=phases)
    b = KuramotoNetwork(omega, 2.0, np.ones((60, 60)), phase_lag=0.4, phases=phases)
    a.step(200)
    b.step(200)
    np.testing.assert_allclose(a.phases, b.phases, atol=1e-10)
    # one Euler step written out pair by pair
    c = KuramotoNetwork(omega, 2.0, phase_lag=0.4, phases=phases, dt=0.05)
    c.step(1)
    pairwise = (2.0 / 60) * np.sin(phases[None, :] - phases[:, None] - 0.4).sum(axis=1)
    np.testing.assert_allclose(c.phases, phases + 0.05 * (omega + pairwise), atol=1e-12)


def ring(n: int) -> sparse.csr_array:
    """Nearest-neighbour ring: A_ij = 1 for |i - j| = 1 (mod n)."""
    i = np.arange(n)
    rows = np.concatenate([i, i])
    cols = np.concatenate([(i + 1) % n, (i - 1) % n])
    return sparse.csr_array((np.ones(2 * n), (rows, cols)), shape=(n, n))


def test_sparse_ring_relaxes_each_mode_at_its_laplacian_rate() -> None:
    """Linearized, a twist mode m of a ring decays as exp(-2 k (1 - cos(2 pi m / n)) t)."""
    n, per_link, eps, steps, dt = 1000, 2.0, 1e-4, 500, 0.01
    for m in (100, 250):
        start = eps * np.cos(2 * np.pi * m * np.arange(n) / n)
        net = KuramotoNetwork(np.full(n, 2.0), per_link * n, ring(n), phases=start, dt=dt)
        net.step(steps)
        rate = 2 * per_link * (1 - math.cos(2 * np.pi * m / n))
        residual = net.phases - 2.0 * net.t  # the common rotation removed
        amplitude = 2 * abs(np.dot(residual, np.cos(2 * np.pi * m * np.arange(n) / n))) / n
        assert amplitude == pytest.approx(eps * (1 - dt * rate) ** steps, rel=1e-3)


def test_sparse_ring_of_identical_oscillators_locks() -> None:
    n = 20
    start = 0.3 * np.random.default_rng(0).standard_normal(n)
    net = KuramotoNetwork(np.full(n, 2.0), coupling=2.0 * n, adjacency=ring(n), phases=start)
    net.step(4000)
    assert net.order_parameter()[0] > 0.9999


def test_rk4_is_fourth_order_and_euler_first_order(rng: np.random.Generator) -> None:
    omega = rng.normal(0, 1, 20)
    phases = rng.uniform(0, 2 * np.pi, 20)

    def final(method: str, dt: float) -> np.ndarray:
        net = KuramotoNetwork(omega, 1.5, phases=phases, dt=dt, method=method)
        net.step(round(2.0 / dt))
        return net.phases

    exact = final("rk4", 0.001)
    for method, order in (("euler", 1), ("rk4", 4)):
        errors = [np.abs(final(method, dt) - exact).max() for dt in (0.04, 0.02)]
        assert math.log2(errors[0] / errors[1]) == pytest.approx(order, abs=0.3)


def test_noise_diffuses_free_phases_at_rate_2d() -> None:
    net = KuramotoNetwork(np.zeros((4, 500)), 0.0, noise=0.3, seed=7, phases=np.zeros(500))
    net.step(500)  # t = 5 s
    assert np.var(net.phases) == pytest.approx(2 * 0.3 * 5.0, rel=0.08)
    again = KuramotoNetwork(np.zeros((4, 500)), 0.0, noise=0.3, seed=7, phases=np.zeros(500))
    again.step(500)
    np.testing.assert_array_equal(again.phases, net.phases)  # seeded


def test_forcing_adds_to_the_rates() -> None:
    net = KuramotoNetwork(np.zeros(3), 0.0, phases=np.zeros(3))
    net.step(100, forcing=[1.0, 2.0, -1.0])
    np.testing.assert_allclose(net.phases, [1.0, 2.0, -1.0])
    assert net.t == pytest.approx(1.0)


def test_frequencies_and_coupling_can_change_between_steps() -> None:
    net = KuramotoNetwork(np.zeros((2, 3)), 0.0, phases=np.zeros(3))
    net.natural_frequencies = [1.0, 2.0, 3.0]  # every member
    net.step(100)
    np.testing.assert_allclose(net.phases, [[1.0, 2.0, 3.0]] * 2)
    net.coupling = [0.0, 5.0]
    net.step(1000)
    r, _ = net.order_parameter()
    assert r[0] < 0.9 and r[1] > 0.98  # member 1 locks: K = 5 > the spread
    with pytest.raises(ConfigError, match="natural_frequencies"):
        net.natural_frequencies = np.zeros(4)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ConfigError, match="natural_frequencies"):
        KuramotoNetwork([1.0, math.nan], 1.0)
    with pytest.raises(ConfigError, match="rk4"):
        KuramotoNetwork(np.zeros(3), 1.0, noise=0.1, method="rk4")
    with pytest.raises(ConfigError, match="3 x 3"):
        KuramotoNetwork(np.zeros(3), 1.0, adjacency=np.ones((2, 2)))
    with pytest.raises(ConfigError, match="dt"):
        KuramotoNetwork(np.zeros(3), 1.0, dt=0.0)
    with pytest.raises(ConfigError, match="coupling"):
        KuramotoNetwork(np.zeros((2, 3)), [1.0, 2.0, 3.0])
    with pytest.raises(ConfigError, match="phases"):
        KuramotoNetwork(np.zeros(3), 1.0, phases=np.zeros(4))
    with pytest.raises(ConfigError, match="forcing"):
        KuramotoNetwork(np.zeros(3), 1.0).step(1, forcing=np.zeros(4))


def test_order_parameter_and_plv_on_known_phases() -> None:
    r, psi = order_parameter([[0.2, 0.2], [0.0, math.pi / 2]])
    np.testing.assert_allclose(r, [1.0, math.sqrt(0.5)])
    np.testing.assert_allclose(psi, [0.2, math.pi / 4])
    t = np.linspace(0, 20, 4000)
    assert phase_locking_value(3 * t, 3 * t + 2.0) == pytest.approx(1.0)
    independent = phase_locking_value(3 * t, 3.7 * t)
    assert independent < 0.1
    with pytest.raises(ConfigError):
        phase_locking_value(t, t[:-1])
