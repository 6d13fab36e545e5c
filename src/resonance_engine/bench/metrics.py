"""Complexity measures: ms per frame for D, G, C, tau, S(q) and the whole analyzer.

Each measure is timed on its own (the public kernels) and the whole frame through
:class:`~resonance_engine.metrics.ComplexityAnalyzer` (one fused pass). The baseline is
the straightforward implementation of the same definitions with scipy.ndimage
(``uniform_filter``, ``gaussian_filter``) and numpy (box counting by reshaping, dwell
over a float32 history; S(q) with numpy.fft.fft2 of the whole plane and a radial average
by np.histogram), measured in the same run; the ratios are baseline / ours. The
calibrated frame's speedup is the median over alternating rounds of the two frames
(:func:`~resonance_engine.bench.interleaved_seconds`).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from resonance_engine.backends import metric_kernels
from resonance_engine.bench import interleaved_seconds, median_seconds
from resonance_engine.cli.args import COUNT, integers
from resonance_engine.errors import ConfigError
from resonance_engine.metrics import (
    ComplexityAnalyzer,
    DwellTimeTracker,
    MetricsConfig,
    RecursiveDwell,
)
from resonance_engine.metrics.coherence import gaussian_weights
from resonance_engine.metrics.fractal import box_sizes, fit_dimension
from resonance_engine.metrics.spectral import structure_factor

__all__ = ["add_arguments", "run", "BaselineAnalyzer", "bench_frames"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--sizes",
        type=integers(low=16),
        default=None,
        help="comma-separated grid sizes (default 256,1024,2048; wgpu: 1024,4096,8192)",
    )
    p.add_argument("--history", type=COUNT, default=16, help="dwell history K (default 16)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--repeats", type=COUNT, default=5, help="timed rounds; the median is reported")
    p.add_argument("--backend", default="numba", choices=("numba", "numpy", "wgpu"))
    p.add_argument("--no-baseline", action="store_true", help="skip the scipy/numpy baseline")


def bench_frames(size: int, dtype: str, count: int = 4, seed: int = 0) -> list[np.ndarray]:
    """A few frames of a travelling interference pattern with some noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    k = rng.uniform(20, 80, (5, 2))
    phase = rng.uniform(0, 2 * np.pi, 5)
    frames = []
    for t in range(count):
        u = sum(np.sin(k[i, 0] * x + k[i, 1] * y + phase[i] - 0.4 * t) for i in range(5))
        u = u + 0.05 * rng.standard_normal((size, size))
        frames.append(np.ascontiguousarray(u, dtype=dtype))
    return frames


class BaselineAnalyzer:
    """The same measures written the obvious way with scipy.ndimage and numpy."""

    def __init__(self, config: MetricsConfig) -> None:
        try:
            from scipy import ndimage
        except ImportError as exc:  # pragma: no cover - scipy is a test extra
            raise ConfigError(
                "the baseline needs scipy (pip install scipy) or use --no-baseline"
            ) from exc
        self.ndimage = ndimage
        self.config = config
        self.history: list[np.ndarray] = []

    def fractal(self, u: np.ndarray) -> float:
        mask = np.abs(u) > np.sqrt(np.mean(u.astype(np.float64) ** 2))
        sizes = box_sizes(u.shape, self.config.min_box, self.config.max_box)
        counts = []
        for s in sizes:
            py, px = -u.shape[0] % s, -u.shape[1] % s
            m = np.pad(mask, ((0, py), (0, px)))
            counts.append(m.reshape(m.shape[0] // s, s, m.shape[1] // s, s).any(axis=(1, 3)).sum())
        return fit_dimension(sizes, np.array(counts, dtype=np.float64))[0]

    def gain(self, u: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.ndimage.uniform_filter(np.abs(u), self.config.gain_window)
        return out

    def coherence(self, u: np.ndarray) -> np.ndarray:
        s, tr = self.config.coherence_sigma, self.config.coherence_truncate
        m1 = self.ndimage.gaussian_filter(u, s, truncate=tr)
        m2 = self.ndimage.gaussian_filter(u * u, s, truncate=tr)
        c = 1.0 / (np.maximum(m2 - m1 * m1, 0) + self.config.coherence_eps)
        lo, hi = c.min(), c.max()
        result: np.ndarray = (c - lo) / (hi - lo) if hi > lo else np.ones_like(c)
        return result

    def dwell(self, u: np.ndarray) -> np.ndarray:
        h = self.config.dwell_scale * float(np.sqrt(np.mean(u.astype(np.float64) ** 2)))
        tau = np.zeros_like(u)
        for k, past in enumerate(reversed(self.history), start=1):
            tau += np.exp(-k / self.config.dwell_lambda) * np.maximum(0, 1 - np.abs(u - past) / h)
        self.history.append(u.copy())
        if len(self.history) > self.config.dwell_history:
            self.history.pop(0)
        return tau

    def update(self, u: np.ndarray) -> float:
        """CI of the frame (the spatial mean)."""
        d = self.fractal(u)
        ci = d * self.gain(u) * self.coherence(u) * -np.expm1(-self.dwell(u) / self.config.gamma)
        return float(ci.mean())

    def structure_factor(self, u: np.ndarray) -> np.ndarray:
        """Radially averaged |FFT|^2 / N: the full complex plane, bins by np.histogram."""
        ny, nx = u.shape
        x = u - u.mean()
        power = np.abs(np.fft.fft2(x)) ** 2 / x.size
        q = np.hypot(*np.meshgrid(np.fft.fftfreq(ny), np.fft.fftfreq(nx), indexing="ij"))
        edges = (np.arange(int(q.max() * max(nx, ny)) + 2) - 0.5) / max(nx, ny)
        sums, _ = np.histogram(q, edges, weights=power)
        counts, _ = np.histogram(q, edges)
        result: np.ndarray = sums / np.maximum(counts, 1)
        return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    default = [1024, 4096, 8192] if args.backend == "wgpu" else [256, 1024, 2048]
    sizes = args.sizes or default
    # the seed's forms (the baseline); the calibrated forms are timed beside them
    config = MetricsConfig.blueprint(dwell_history=args.history, backend=args.backend)
    results: dict[str, Any] = {
        "threads": int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1)),
        "dtype": args.dtype,
        "dwell history": args.history,
        "backend": args.backend,
    }
    if args.backend == "wgpu":  # the measures on resident fields (bench.gpu)
        from resonance_engine.backends.wgpu_gpu import gpu_context
        from resonance_engine.bench.gpu import measure_metrics_wgpu

        results["device"] = gpu_context().description
        for size in sizes:
            frames = bench_frames(size, args.dtype)
            results.update(measure_metrics_wgpu(size, frames, config, args.repeats))
        return results
    for size in sizes:
        results.update(_measure(size, args, config))
    return results


def _measure(size: int, args: argparse.Namespace, config: MetricsConfig) -> dict[str, float]:
    """Medians (ms) of each measure and of the whole frame at one grid size.

    ``config`` is the seed's forms (the baseline computes those); the calibrated frame
    (the defaults) and the calibrated kernels are timed beside them, so the cost of each
    change shows: D over shifted grids, C local with inward edges, the recursive dwell.
    """
    kernels = metric_kernels(args.backend)
    weights = gaussian_weights(config.coherence_sigma, config.coherence_truncate)
    frames = bench_frames(size, args.dtype)
    batch = frames[0][None]
    out = np.empty_like(batch)
    stats = kernels.frame_stats(batch)
    theta = np.sqrt(stats[:, 1])
    levels = int(box_sizes((size, size))[-1]).bit_length() - 1
    analyzer = ComplexityAnalyzer(config)
    calibrated = ComplexityAnalyzer(MetricsConfig(backend=args.backend))
    recursive = RecursiveDwell(batch.shape, dtype=batch.dtype, backend=args.backend)
    tracker = DwellTimeTracker(
        batch.shape, args.history, config.dwell_lambda, dtype=batch.dtype, backend=args.backend
    )
    for n in range(args.history + 1):  # fill the dwell histories
        analyzer.update(frames[n % len(frames)])
        calibrated.update(frames[n % len(frames)], t=0.001 * n)
        tracker.update(frames[n % len(frames)][None])
        recursive.update(frames[n % len(frames)][None], 0.001)
    counter = iter(range(10**12))
    clock = iter(range(args.history + 1, 10**12))
    results: dict[str, float] = {}
    ours: dict[str, Callable[[], object]] = {
        "stats": lambda: kernels.frame_stats(batch),
        "D": lambda: kernels.box_counts(batch, theta, levels, False),
        "G": lambda: kernels.gain(batch, config.gain_window, out),
        "C": lambda: kernels.local_variance(batch, weights, stats[:, 0], out),
        "tau": lambda: tracker.update_batch(batch, stats, out),
        "S(q)": lambda: structure_factor(batch[0]),
        "frame (D+G+C+tau+CI)": lambda: analyzer.update(frames[next(counter) % len(frames)]),
        "D shifted": lambda: kernels.shifted_box_counts(batch, theta, levels, False),
        "C local inward": lambda: kernels.local_variance(
            batch, weights, stats[:, 0], out, True, True
        ),
        "tau recursive": lambda: recursive.update(batch, 0.001),
        "calibrated frame": lambda: _calibrated_frame(calibrated, frames, clock),
    }
    for name, fn in ours.items():
        results[f"{size} {name} ms"] = median_seconds(fn, args.repeats) * 1e3
    results[f"{size} calibrated / seed frame"] = (
        results[f"{size} calibrated frame ms"] / results[f"{size} frame (D+G+C+tau+CI) ms"]
    )
    if args.no_baseline:
        return results
    base = BaselineAnalyzer(config)
    for n in range(args.history):
        base.dwell(frames[n % len(frames)])
    u0 = frames[0]
    baseline: dict[str, Callable[[], object]] = {
        "D": lambda: base.fractal(u0),
        "G": lambda: base.gain(u0),
        "C": lambda: base.coherence(u0),
        "tau": lambda: base.dwell(u0),
        "S(q)": lambda: base.structure_factor(u0),
        "frame (D+G+C+tau+CI)": lambda: base.update(frames[next(counter) % len(frames)]),
    }
    repeats = max(1, args.repeats if size <= 1024 else 3)
    for name, fn in baseline.items():
        seconds = median_seconds(fn, repeats, min_time=0.1)
        results[f"{size} {name} baseline ms"] = seconds * 1e3
        results[f"{size} {name} speedup"] = seconds * 1e3 / results[f"{size} {name} ms"]
    # the headline ratio from alternating rounds, so that load hits both frames alike
    _, ratios = interleaved_seconds(
        {"baseline": baseline["frame (D+G+C+tau+CI)"], "calibrated": ours["calibrated frame"]},
        repeats, min_time=0.2,
    )
    results[f"{size} calibrated frame speedup"] = ratios["calibrated"]
    return results


def _calibrated_frame(analyzer: ComplexityAnalyzer, frames: list[np.ndarray], clock: Any) -> None:
    n = next(clock)
    analyzer.update(frames[n % len(frames)], t=0.001 * n)
