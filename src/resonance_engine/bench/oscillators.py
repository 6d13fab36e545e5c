"""Kuramoto steps per second and the time of a Tort modulation index with surrogates.

Kuramoto: oscillator-steps per second (N x steps / s) of the numba kernel for
all-to-all networks (mean field, Euler) of each size in ``--sizes`` and for a sparse
small-world network (a ring with two neighbours on each side plus one random shortcut
per ten nodes), against the numpy reference kernel of the same scheme timed in
alternating rounds (the ratio is the median of per-round ratios, so load from other
processes hits both alike). With N = 1e5 in the sizes, a noisy network (Euler-Maruyama,
normals drawn by numpy in :meth:`KuramotoNetwork.step`) is timed too.

Tort MI: :func:`~resonance_engine.oscillators.modulation_index` of ``--mi-seconds`` of a
coupled signal at ``--mi-rate`` Hz with ``--surrogates`` surrogates (filters, Hilbert
transforms and the binning of the signal and every surrogate), and the binning alone on
numba against the numpy reference.

With ``--peer``, the ``kuramoto`` package from PyPI (scipy ``odeint`` over a dense
N x N interaction matrix) integrates N = 1000 all-to-all oscillators for 1 s sampled at
dt = 0.01 s, once; its rate counts oscillators x output samples per second (odeint
chooses its own internal steps), beside ours at the same N.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from resonance_engine.backends import oscillator_kernels
from resonance_engine.backends.base import SparseCoupling
from resonance_engine.bench import interleaved_seconds, median_seconds
from resonance_engine.cli.args import COUNT, COUNT0, POSITIVE, integers, number
from resonance_engine.errors import ConfigError
from resonance_engine.oscillators import (
    KuramotoNetwork,
    band_analytic,
    binned_modulation_index,
    modulation_index,
    sparse_coupling,
)

__all__ = ["add_arguments", "run", "small_world"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--sizes",
        type=integers(low=1),
        default="1000,100000,1000000",
        help="all-to-all network sizes N (comma-separated)",
    )
    p.add_argument("--sparse-size", type=COUNT0, default=100_000,
                   help="small-world size N (0: skip)")
    p.add_argument(
        "--work", type=number(low=1.0), default=2e7,
            help="oscillator-steps per timed call (default 2e7)"
    )
    p.add_argument("--repeats", type=COUNT, default=5, help="timed rounds; the median is reported")
    p.add_argument(
        "--threads", type=integers(low=1), default=None,
            help="comma-separated numba thread counts (default: current)"
    )
    p.add_argument("--mi-seconds", type=POSITIVE, default=60.0, help="signal length of the MI (s)")
    p.add_argument("--mi-rate", type=number(low=200.0, low_open=True), default=1000.0,
                   help="sampling rate of the MI (Hz)")
    p.add_argument("--surrogates", type=COUNT0, default=200, help="surrogates of the MI test")
    p.add_argument("--no-baseline", action="store_true", help="skip the numpy reference")
    p.add_argument(
        "--peer",
        action="store_true",
        help="also time the kuramoto package from PyPI (N = 1000, 1 s of dt = 0.01: ~10 s)",
    )


def small_world(n: int, seed: int = 0) -> SparseCoupling:
    """A ring with links to the 2 nearest nodes on each side plus n // 10 random shortcuts."""
    from scipy import sparse

    rng = np.random.default_rng(seed)
    i = np.arange(n)
    rows = [i, i, i, i, rng.integers(0, n, n // 10)]
    cols = [(i + 1) % n, (i - 1) % n, (i + 2) % n, (i - 2) % n, rng.integers(0, n, n // 10)]
    matrix = sparse.csr_array(
        (np.ones(sum(r.size for r in rows)), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n, n),
    )
    return sparse_coupling(matrix, n)


def _case(n: int, adjacency: SparseCoupling | None, work: float) -> dict[str, Any]:
    rng = np.random.default_rng(n)
    theta = rng.uniform(0, 2 * np.pi, (1, n))
    steps = max(1, int(work // n))
    return {
        "args": (rng.normal(0, 1, (1, n)), np.array([1.0 / n]), np.zeros(1), 0.01),
        "theta": theta,
        "steps": steps,
        "adjacency": adjacency,
    }


def _step_fn(backend: str, case: dict[str, Any], steps: int) -> Callable[[], None]:
    kernels = oscillator_kernels(backend)
    omega, coupling, lag, dt = case["args"]

    def step() -> None:
        kernels.kuramoto_steps(
            case["theta"], omega, coupling, lag, dt, steps, None, case["adjacency"], "euler"
        )

    return step


def _measure(
    tag: str, n: int, case: dict[str, Any], args: argparse.Namespace, threads: list[int]
) -> dict[str, Any]:
    import numba

    out: dict[str, Any] = {}
    fast = _step_fn("numba", case, case["steps"])
    fast()  # compile or load from the cache
    ref_steps = max(1, case["steps"] // 50)  # the reference is about 50x slower
    for count in threads:
        numba.set_num_threads(count)
        label = f"{tag} numba {count}T"
        if args.no_baseline:
            seconds = median_seconds(fast, args.repeats)
        else:
            slow = _step_fn("numpy", case, ref_steps)
            times, ratios = interleaved_seconds({"numba": fast, "numpy": slow}, args.repeats)
            seconds = times["numba"]
            out[f"{tag} numpy osc-steps/s"] = n * ref_steps / times["numpy"]
            # ratios["numpy"] = t_numba / t_numpy per round; scaled to equal work
            out[f"{label} / numpy"] = (case["steps"] / ref_steps) / ratios["numpy"]
        out[f"{label} steps/s"] = case["steps"] / seconds
        out[f"{label} osc-steps/s"] = n * case["steps"] / seconds
    return out


def _peer(ours: float | None) -> dict[str, Any]:
    """One run of the PyPI ``kuramoto`` package at N = 1000 (see the module docstring)."""
    try:
        from kuramoto import Kuramoto
    except ImportError as exc:
        raise ConfigError(
            f"--peer needs the kuramoto package (pip install kuramoto): {exc}"
        ) from None
    n, duration, dt = 1000, 1.0, 0.01
    omega = np.random.default_rng(0).normal(0, 1, n)
    start = time.perf_counter()
    Kuramoto(coupling=1.0, dt=dt, T=duration, natfreqs=omega).run(adj_mat=np.ones((n, n)))
    seconds = time.perf_counter() - start
    out: dict[str, Any] = {
        "kuramoto (PyPI) N=1000, 1 s at dt=0.01 (s)": seconds,
        "kuramoto (PyPI) N=1000 osc-samples/s": n * round(duration / dt) / seconds,
    }
    if ours:
        out["ours / kuramoto (PyPI) at N=1000"] = ours / out["kuramoto (PyPI) N=1000 osc-samples/s"]
    return out


def _mi_signal(seconds: float, rate: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(0, seconds, 1 / rate)
    slow = 2 * np.pi * 6 * t + np.cumsum(np.sqrt(2 / rate) * rng.standard_normal(t.size))
    fast = (1 + np.cos(slow)) * np.cos(2 * np.pi * 80 * t)
    x: np.ndarray = np.cos(slow) + 0.5 * fast + 0.5 * rng.standard_normal(t.size)
    return x


def run(args: argparse.Namespace) -> dict[str, Any]:
    import numba

    sizes = list(args.sizes)
    threads = list(args.threads) if args.threads else [numba.get_num_threads()]
    if args.mi_seconds * args.mi_rate < 1000:
        raise ConfigError(
            f"--mi-seconds {args.mi_seconds:g} x --mi-rate {args.mi_rate:g} Hz gives fewer than "
            "1000 samples; give a longer signal or a higher rate"
        )
    results: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "load average before (1 min)": os.getloadavg()[0],
    }
    for n in sizes:
        results.update(_measure(f"all-to-all N={n}", n, _case(n, None, args.work), args, threads))
    if args.sparse_size:
        n = args.sparse_size
        graph = small_world(n)
        results[f"small-world N={n} links"] = int(graph.data.size)
        results.update(_measure(f"small-world N={n}", n, _case(n, graph, args.work), args, threads))
    if 100_000 in sizes:  # the noisy network: normals drawn by numpy, then the same kernel
        n = 100_000
        noisy = KuramotoNetwork(np.zeros(n), 1.0, noise=0.1, seed=0)
        steps = max(1, int(args.work // n))
        noisy.step(1)
        seconds = median_seconds(partial(noisy.step, steps), args.repeats)
        results[f"all-to-all N={n} noise D=0.1 numba {threads[-1]}T osc-steps/s"] = (
            n * steps / seconds
        )
    if args.peer:
        results.update(_peer(results.get(f"all-to-all N=1000 numba {threads[-1]}T osc-steps/s")))
    numba.set_num_threads(threads[-1])
    x = _mi_signal(args.mi_seconds, args.mi_rate)
    bands = ((4.0, 8.0), (60.0, 100.0))
    total = partial(modulation_index, x, args.mi_rate, *bands, surrogates=args.surrogates, seed=0)
    start = time.perf_counter()
    mi, p_value = total()
    results["MI first call incl. compile/cache load (s)"] = time.perf_counter() - start
    label = f"MI {args.mi_seconds:g} s at {args.mi_rate:g} Hz, {args.surrogates} surrogates"
    results[f"{label} (s)"] = median_seconds(total, args.repeats, min_time=0.0)
    results["MI value, p"] = f"{mi:.4f}, {p_value:.4f}"
    phase = np.angle(band_analytic(x, args.mi_rate, bands[0]))
    envelope = np.abs(band_analytic(x, args.mi_rate, bands[1]))
    binning: dict[str, Callable[[], object]] = {
        backend: partial(binned_modulation_index, phase, envelope, 18, args.surrogates, 0, backend)
        for backend in (["numba"] if args.no_baseline else ["numba", "numpy"])
    }
    times, ratios = interleaved_seconds(binning, args.repeats, min_time=0.0)
    results["MI binning of all surrogates, numba (s)"] = times["numba"]
    if "numpy" in times:
        results["MI binning, numpy reference (s)"] = times["numpy"]
        results["MI binning numba / numpy"] = 1.0 / ratios["numpy"]
    results["load average after (1 min)"] = os.getloadavg()[0]
    return results
