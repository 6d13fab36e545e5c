"""Leapfrog throughput on the wgpu backend, against the GPU's own copy bandwidth.

Used by ``resonance bench solver --backend wgpu``. Per grid size it times ``step(n)``
on a device-resident field (absorbing edges, one submission per call, waiting for the
GPU at the end of each call) and a buffer-to-buffer copy of one field in the same run.
It also reports the CPU time wgpu-py takes to record and submit a step: when it
approaches ms/step, Python, not the GPU, is the limit. The stencil moves 12 bytes per
cell per step in float32 (load u[n], load and store
u[n-1]; 24 in float64); a copy of B bytes moves 2 B. Their ratio says how close the
stencil gets to the memory bandwidth this GPU actually delivers.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from resonance_engine.bench import median_seconds
from resonance_engine.field.solver import WaveSolver2D

__all__ = ["measure_wgpu", "measure_metrics_wgpu", "copy_bandwidth", "DEFAULT_GPU_SIZES"]

#: Grid sizes measured when ``--sizes`` is not given and only wgpu is asked for.
DEFAULT_GPU_SIZES = (1024, 4096, 8192)


def copy_bandwidth(ctx: Any, nbytes: int, repeats: int = 5, copies: int = 20) -> float:
    """Bytes per second moved by buffer-to-buffer copies of ``nbytes`` (read + write).

    Parameters
    ----------
    ctx : GpuContext
    nbytes : int
        Size of one copy (bytes, a multiple of 4).
    repeats : int
        Timed rounds; the median is used.
    copies : int
        Copies recorded in one command buffer per timed call.
    """
    import wgpu

    device = ctx.device
    usage = wgpu.BufferUsage.COPY_SRC | wgpu.BufferUsage.COPY_DST
    source = device.create_buffer(size=nbytes, usage=usage)
    target = device.create_buffer(size=nbytes, usage=usage)

    def run() -> None:
        encoder = device.create_command_encoder()
        for _ in range(copies):
            encoder.copy_buffer_to_buffer(source, 0, target, 0, nbytes)
        device.queue.submit([encoder.finish()])
        ctx.wait()

    seconds = median_seconds(run, repeats) / copies
    source.destroy()
    target.destroy()
    return 2 * nbytes / seconds


def measure_wgpu(size: int, steps: int, repeats: int, dtype: str) -> dict[str, Any]:
    """Steps/s, Gcell/s, achieved stencil bandwidth and its ratio to the copy bandwidth.

    Parameters
    ----------
    size : int
        Cells per side.
    steps : int
        Steps per timed call (one submission of ``steps`` steps, then a wait).
    repeats : int
        Timed rounds; the median is reported.
    dtype : {"float32", "float64"}
    """
    solver = WaveSolver2D(
        size,
        size,
        dx=1.0,
        damping=0.01,
        boundary="absorbing",
        dtype=dtype,
        backend="wgpu",
        check_interval=10**9,
    )
    solver.set_gaussian_pulse(size / 2, size / 2, size / 16)
    state: Any = solver._state
    ctx = state.ctx

    def run() -> None:
        solver.step(steps)
        state.synchronize()

    seconds = median_seconds(run, repeats) / steps
    record = []
    for _ in range(repeats):  # CPU time to record and submit, without waiting for the GPU
        start = time.perf_counter()
        solver.step(steps)
        record.append(time.perf_counter() - start)
        state.synchronize()
    cells = size * size
    itemsize = np.dtype(dtype).itemsize
    stencil = 3 * itemsize * cells / seconds
    copy = copy_bandwidth(ctx, cells * itemsize, repeats)
    finite = bool(state.finite_members().all())
    tag = f"{size} wgpu"
    return {
        f"{tag} steps/s": 1.0 / seconds,
        f"{tag} ms/step": seconds * 1e3,
        f"{tag} recording us/step (CPU)": statistics.median(record) / steps * 1e6,
        f"{tag} Gcell/s": cells / seconds / 1e9,
        f"{tag} stencil GB/s ({3 * itemsize} B/cell)": stencil / 1e9,
        f"{size} copy GB/s (read+write)": copy / 1e9,
        f"{tag} / copy bandwidth": stencil / copy,
        f"{tag} field finite after run": finite,
        f"{tag} workgroup": "x".join(str(v) for v in state._pipes.group),
    }


def first_call_seconds(dtype: str) -> tuple[float, str]:
    """Time of the first wgpu step (device, shader compilation) and the adapter used."""
    start = time.perf_counter()
    solver = WaveSolver2D(16, 16, dtype=dtype, backend="wgpu")
    solver.step(1)
    state: Any = solver._state
    state.synchronize()
    return time.perf_counter() - start, state.ctx.description


class _ResidentFrame:
    """What :meth:`ComplexityAnalyzer.observe` reads of a solver, for a bare field state."""

    batch = None
    t = 0.0

    def __init__(self, state: Any) -> None:
        self._state = state
        self.step_count = 0

    @property
    def u(self) -> np.ndarray:
        return self._state.current()[0]


def measure_metrics_wgpu(
    size: int, frames: list[np.ndarray], config: Any, repeats: int
) -> dict[str, float]:
    """Milliseconds per measure and frames/s of the whole analyzer on the GPU at one size.

    The frames are uploaded once into a resident field state; each measure is one
    submission followed by a wait for the GPU, and the whole frame is
    :meth:`ComplexityAnalyzer.observe` on the resident field (its reductions read back
    only scalars). The dwell ring is filled first. ``config`` gives the seed's forms; the
    calibrated kernels (D over shifted grids, C local with inward edges, the recursive
    dwell) and the calibrated frame (the defaults) are timed beside them, so the cost of
    each change shows.

    Parameters
    ----------
    size : int
        Grid side (cells).
    frames : list of ndarray, each (size, size)
        Frames to cycle through (float32 or float64).
    config : MetricsConfig
        With ``backend="wgpu"``.
    repeats : int
        Timed rounds; medians are reported.
    """
    from resonance_engine.backends.wgpu_gpu import WgpuFieldState
    from resonance_engine.metrics import ComplexityAnalyzer, MetricsConfig
    from resonance_engine.metrics.coherence import gaussian_weights

    dtype = frames[0].dtype
    states = []
    for u in frames:
        state = WgpuFieldState((1, size, size), dtype)
        state.upload(u[None], u[None])
        states.append(state)
    analyzer = ComplexityAnalyzer(config)
    calibrated = ComplexityAnalyzer(MetricsConfig(backend="wgpu"))
    resident = _ResidentFrame(states[0])
    for n in range(config.dwell_history + 1):  # fill the ring
        resident._state = states[n % len(states)]
        analyzer.observe(resident)
        resident.t = 0.001 * n
        calibrated.observe(resident)
    measures = analyzer._resident
    fields = measures.fields
    ctx = fields.ctx
    weights = gaussian_weights(config.coherence_sigma, config.coherence_truncate)
    stats = measures.frame_stats()
    theta = np.sqrt(stats[:, 1])
    levels = analyzer._levels
    counter = iter(range(10**12))

    def waited(fn: Any) -> Any:
        def run() -> None:
            fn()
            ctx.wait()

        return run

    def frame() -> None:
        resident._state = states[next(counter) % len(states)]
        analyzer.observe(resident)

    def calibrated_frame() -> None:
        n = next(counter)
        resident._state = states[n % len(states)]
        resident.t += 0.001
        calibrated.observe(resident)

    fine = calibrated._resident

    timed = {
        "stats": measures.frame_stats,
        "D": lambda: measures.fields.state.box_counts(theta, levels, False),
        "G": waited(lambda: fields.gain(config.gain_window)),
        "C": waited(
            lambda: fields.coherence(
                weights, stats[:, 0], config.coherence_normalize, config.coherence_eps,
                config.coherence_scale,
            )
        ),
        "tau": waited(lambda: measures._dwell(stats)),
        "CI+means": lambda: fields.combine(config.gamma),
        "frame (D+G+C+tau+CI)": frame,
        "D shifted": lambda: measures.fields.state.shifted_box_counts(theta, levels, False),
        "C local inward": waited(
            lambda: fine.fields.coherence(weights, stats[:, 0], "local", 1.0, 1.0, inward=True)
        ),
        "tau recursive": waited(lambda: fine._dwell(stats, 0.99, 0.001, 0.01)),
        "calibrated frame": calibrated_frame,
    }
    results: dict[str, float] = {}
    for name, fn in timed.items():
        results[f"{size} {name} ms"] = median_seconds(fn, repeats) * 1e3
    results[f"{size} wgpu frames/s"] = 1e3 / results[f"{size} frame (D+G+C+tau+CI) ms"]
    results[f"{size} calibrated / seed frame"] = (
        results[f"{size} calibrated frame ms"] / results[f"{size} frame (D+G+C+tau+CI) ms"]
    )
    return results
