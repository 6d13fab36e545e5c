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

__all__ = ["measure_wgpu", "copy_bandwidth", "DEFAULT_GPU_SIZES"]

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
