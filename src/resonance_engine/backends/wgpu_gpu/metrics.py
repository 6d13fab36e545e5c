"""The complexity measures on a GPU: WGSL kernels over fields resident in GPU memory.

:class:`WgpuMetricFields` computes, for the current frame u[n] of a
:class:`~resonance_engine.backends.wgpu_gpu.field.WgpuFieldState`, the gain G
(``shaders/gain.wgsl``: a two-pass separable box filter), the coherence C
(``moments.wgsl``: separable Gaussian moments with renormalised or inward edges, scaled
by a power of two per member; the "local" form m1^2 / m2, 1 / (a var + b), the "frame"
rescaling by a min/max reduction), the dwell tau (``dwell.wgsl``: the recursive dwell
from the previous frame and tau kept on the GPU, or the seed's ring buffer of past
frames as int16 codes packed two per word or in the field's float type) and the CI field
without its per-member factor alpha D^beta, with the partial sums of the spatial means
(``combine.wgsl``). The fields stay on the GPU; only the per-member sums come back, and
the fields themselves when :meth:`~WgpuMetricFields.read` asks for them. (The frame
statistics and the box counts of the threshold mask, aligned or over shifted grids, are
:meth:`WgpuFieldState.frame_stats`, :meth:`WgpuFieldState.box_counts` and
:meth:`WgpuFieldState.shifted_box_counts`.) Every form of :class:`MetricsConfig`, the
calibrated defaults and the seed's, runs in WGSL.

The module-level functions implement the
:class:`~resonance_engine.backends.base.MetricKernels` protocol on host arrays (upload,
run, download) so that every kernel can be checked against the numpy reference, and so
that ``metric_kernels("wgpu")`` works on host frames.

Arithmetic is in the field's type (float32 sums of at most a window or a kernel's taps;
the spatial means add float32 partial sums per workgroup and finish in float64). In
float64 the exp of the CI combination and of the recursive dwell is evaluated in float32
(Vulkan has no 64-bit exp).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import wgpu

from resonance_engine.backends.base import FrameParams
from resonance_engine.backends.wgpu_gpu.device import GpuContext
from resonance_engine.backends.wgpu_gpu.field import (
    _COPY,
    _STORAGE,
    WgpuFieldState,
    _ceil_div,
    _layout_entry,
)
from resonance_engine.errors import BackendError

__all__ = [
    "WgpuMetricFields",
    "frame_stats",
    "box_counts",
    "gain",
    "local_variance",
    "dwell",
    "shifted_box_counts",
    "recursive_dwell",
    "analyze_frame",
]

_GROUP = 256
#: The ``mode`` of ``moments.wgsl`` for each form of :meth:`WgpuMetricFields.coherence`.
_COHERENCE_MODES = {
    "frame": 0, "bounded": 1, "variance": 2, "local": 3, "affine": 4, "relative": 5
}
_MAX_GROUPS = 65535
_UNIFORM = wgpu.BufferUsage.UNIFORM


class _MetricPipelines:
    """The compiled metric pipelines and their layouts for one (device, dtype)."""

    def __init__(self, ctx: GpuContext, dtype: np.dtype) -> None:
        device = ctx.device

        def layout(kinds: list[str]) -> Any:
            return device.create_bind_group_layout(
                entries=[_layout_entry(n, kind) for n, kind in enumerate(kinds)]
            )

        def pipelines(shader: str, group_layout: Any, entries: tuple[str, ...]) -> list[Any]:
            module = ctx.shader(shader, dtype)
            pipeline_layout = device.create_pipeline_layout(bind_group_layouts=[group_layout])
            return [
                device.create_compute_pipeline(
                    label=entry,
                    layout=pipeline_layout,
                    compute={"module": module, "entry_point": entry},
                )
                for entry in entries
            ]

        ro, rw = "read-only-storage", "storage"
        self.gain_layout = layout(["uniform", ro, rw])
        self.box_sum_x, self.box_mean_y = pipelines(
            "gain", self.gain_layout, ("box_sum_x", "box_mean_y")
        )
        self.moments_layout = layout(["uniform", ro, ro, rw, rw])
        self.smooth_x, self.smooth_y, self.minmax_partial, self.normalize_frame = pipelines(
            "moments",
            self.moments_layout,
            ("smooth_x", "smooth_y", "minmax_partial", "normalize_frame"),
        )
        self.dwell_layout = layout(["uniform", ro, ro, ro, rw, rw, rw])
        self.dwell_codes, self.dwell_float, self.dwell_recursive = pipelines(
            "dwell", self.dwell_layout, ("dwell_codes", "dwell_float", "dwell_recursive")
        )
        self.combine_layout = layout(["uniform", ro, ro, ro, ro, rw, rw])
        (self.combine,) = pipelines("combine", self.combine_layout, ("combine",))


_pipelines: dict[tuple[int, str], _MetricPipelines] = {}


def _pipelines_for(ctx: GpuContext, dtype: np.dtype) -> _MetricPipelines:
    key = (id(ctx.device), dtype.name)
    if key not in _pipelines:
        _pipelines[key] = _MetricPipelines(ctx, dtype)
    return _pipelines[key]


def _flat_groups(count: int) -> tuple[int, int]:
    """Workgroups (x, y) of 256 invocations covering ``count`` items (x * y * 256 >= count)."""
    groups = max(_ceil_div(count, _GROUP), 1)
    gx = min(groups, 32768)
    return gx, _ceil_div(groups, gx)


class WgpuMetricFields:
    """G, C, tau and the CI field of the current frame of a resident field state.

    Parameters
    ----------
    state : WgpuFieldState
        The fields; every kernel reads its current u[n] (``state.current_buffer``).

    Attributes
    ----------
    gain_buffer, coherence_buffer, dwell_buffer, ci_buffer : wgpu buffers
        G, C, tau and E = G C (1 - exp(-tau / gamma)) (the CI field over alpha D^beta),
        each of the state's shape and dtype, valid after the matching call.
    """

    def __init__(self, state: WgpuFieldState) -> None:
        self.state = state
        self.ctx = state.ctx
        self.dtype = state.dtype
        self.shape = state.shape
        self._pipes = _pipelines_for(self.ctx, self.dtype)
        device = self.ctx.device
        size = state.nbytes
        self.gain_buffer, self.coherence_buffer, self.dwell_buffer, self.ci_buffer = (
            device.create_buffer(label=name, size=size, usage=_STORAGE | _COPY)
            for name in ("gain", "coherence", "dwell", "ci")
        )
        if 2 * size > self.ctx.max_binding:
            raise BackendError(
                f"backend 'wgpu': the coherence moments of {self.shape} {self.dtype.name} "
                f"need {2 * size / 2**20:.0f} MiB in one binding, the adapter "
                f"{self.ctx.description} binds at most {self.ctx.max_binding / 2**20:.0f} MiB; "
                "use a smaller grid or batch"
            )
        self._scratch = device.create_buffer(label="moments", size=2 * size, usage=_STORAGE)
        self._dummy = device.create_buffer(label="unused", size=16, usage=_STORAGE)
        self._history = 0
        self._quantized = True
        self._ring: Any = None

    # ------------------------------------------------------------------ helpers
    def _uniform(self, words: tuple[int, ...]) -> Any:
        padded = list(words) + [0] * (-len(words) % 4)
        return self.ctx.device.create_buffer_with_data(
            data=np.asarray(padded, dtype=np.uint32), usage=_UNIFORM
        )

    def _storage(self, values: np.ndarray, dtype: np.dtype | type | None = None) -> Any:
        data = np.ascontiguousarray(values, dtype=dtype or self.dtype).ravel()
        if data.nbytes < 16:
            data = np.concatenate([data, np.zeros((16 - data.nbytes) // data.itemsize, data.dtype)])
        return self.ctx.device.create_buffer_with_data(data=data, usage=_STORAGE)

    def _group(self, layout: Any, buffers: list[Any]) -> Any:
        return self.ctx.device.create_bind_group(
            layout=layout,
            entries=[
                {"binding": n, "resource": {"buffer": buffer}} for n, buffer in enumerate(buffers)
            ],
        )

    def _run(self, dispatches: list[tuple[Any, Any, tuple[int, int, int]]]) -> None:
        encoder = self.ctx.device.create_command_encoder()
        compute = encoder.begin_compute_pass()
        for pipeline, group, groups in dispatches:
            compute.set_pipeline(pipeline)
            compute.set_bind_group(0, group)
            compute.dispatch_workgroups(*groups)
        compute.end()
        self.ctx.device.queue.submit([encoder.finish()])

    def _grid_groups(self) -> tuple[int, int, int]:
        batch, ny, nx = self.shape
        return _ceil_div(nx, 64), _ceil_div(ny, 4), batch

    def read(self, buffer: Any) -> np.ndarray:
        """One of the field buffers read back to the host: shape (batch, ny, nx)."""
        data = self.ctx.device.queue.read_buffer(buffer, 0, self.state.nbytes)
        return np.frombuffer(data, dtype=self.dtype).reshape(self.shape).copy()

    # ------------------------------------------------------------------ kernels
    def gain(self, window: int) -> None:
        """G = mean of |u| over the centred window x window square (into gain_buffer)."""
        _, ny, nx = self.shape
        pipes = self._pipes
        grid = self._uniform((nx, ny, int(window) // 2))
        self._run(
            [
                (
                    pipes.box_sum_x,
                    self._group(
                        pipes.gain_layout, [grid, self.state.current_buffer, self._scratch]
                    ),
                    self._grid_groups(),
                ),
                (
                    pipes.box_mean_y,
                    self._group(pipes.gain_layout, [grid, self._scratch, self.gain_buffer]),
                    self._grid_groups(),
                ),
            ]
        )

    def coherence(
        self,
        weights: np.ndarray,
        shift: np.ndarray,
        normalize: str,
        eps: float,
        scale: float,
        *,
        moment_scale: np.ndarray | None = None,
        inward: bool = False,
        rescale: bool | None = None,
    ) -> None:
        """C from the Gaussian local moments of (u - shift) * moment_scale (into coherence_buffer).

        ``normalize``: "frame" 1 / (var + eps) rescaled per member to [0, 1]; "bounded"
        1 / (1 + var / scale); "local" m1^2 / m2 (1 where m2 = 0); "affine"
        1 / (scale var + eps) (the analyzer's coh_a = scale, coh_b = eps); "variance" the
        local variance itself and "relative" var / m2 (the :meth:`MetricKernels.local_variance`
        contract). ``rescale`` (default: "frame" only) rescales the result per member to
        [0, 1] by its min and max. ``inward``: the edge cells take the moments of the
        nearest whole window (see ``moments.wgsl``).
        """
        batch, ny, nx = self.shape
        weights = np.asarray(weights, dtype=np.float64)
        radius = len(weights) // 2
        mode = _COHERENCE_MODES[normalize]
        parts = [weights, np.asarray(shift, np.float64), np.asarray([eps, scale], np.float64)]
        options = int(inward)
        if moment_scale is not None:
            parts.append(np.broadcast_to(np.asarray(moment_scale, np.float64), (batch,)))
            options |= 2
        groups = min(_ceil_div(ny * nx, _GROUP), _GROUP)
        params = self._storage(np.concatenate(parts))
        grid = self._uniform((nx, ny, radius, batch, mode, groups, options))
        pipes = self._pipes
        part = self.ctx.device.create_buffer(
            size=2 * batch * groups * self.dtype.itemsize, usage=_STORAGE
        )
        first = self._group(
            pipes.moments_layout, [grid, self.state.current_buffer, params, self._scratch, part]
        )
        second = self._group(
            pipes.moments_layout, [grid, self._scratch, params, self.coherence_buffer, part]
        )
        dispatches = [
            (pipes.smooth_x, first, self._grid_groups()),
            (pipes.smooth_y, second, self._grid_groups()),
        ]
        if normalize == "frame" if rescale is None else rescale:
            spread = min(_ceil_div(ny * nx, _GROUP), 4096)
            dispatches += [
                (pipes.minmax_partial, second, (groups, 1, batch)),
                (pipes.normalize_frame, second, (spread, 1, batch)),
            ]
        self._run(dispatches)

    def use_history(self, history: int, quantized: bool) -> None:
        """Allocate (zeroed) the dwell ring of ``history`` past frames on the GPU."""
        batch, ny, nx = self.shape
        if self._ring is not None:
            self._ring.destroy()
        n = ny * nx
        words = _ceil_div(n, 2)
        nbytes = (
            batch * history * words * 4 if quantized else batch * history * n * self.dtype.itemsize
        )
        if nbytes > self.ctx.max_binding:
            raise BackendError(
                f"backend 'wgpu': a dwell history of {history} frames of {self.shape} needs "
                f"{nbytes / 2**20:.0f} MiB, the adapter {self.ctx.description} binds at most "
                f"{self.ctx.max_binding / 2**20:.0f} MiB; lower dwell_history, use "
                "dwell_storage='int16', or a smaller grid or batch"
            )
        self._ring = self.ctx.device.create_buffer(
            label="dwell ring", size=nbytes, usage=_STORAGE | _COPY
        )
        self._history = int(history)
        self._quantized = bool(quantized)

    def dwell(
        self,
        slots: np.ndarray,
        lag_weights: np.ndarray,
        slot_scale: np.ndarray,
        inv_h: np.ndarray,
        store_slot: int,
        store_scale: np.ndarray,
    ) -> None:
        """tau from the ring (into dwell_buffer), then store the current frame.

        The parameters are those of :meth:`MetricKernels.dwell
        <resonance_engine.backends.base.MetricKernels.dwell>`; the ring is the one of
        :meth:`use_history` (int16 codes when ``quantized``).
        """
        if self._ring is None:
            raise BackendError("WgpuMetricFields.dwell: call use_history() first")
        batch, ny, nx = self.shape
        n = ny * nx
        words = _ceil_div(n, 2)
        lags = len(slots)
        store = int(store_slot) if store_slot >= 0 else self._history
        grid = self._uniform((nx, ny, batch, self._history, lags, store, words))
        params = self._storage(
            np.concatenate(
                [
                    np.asarray(inv_h, np.float64),
                    np.asarray(store_scale, np.float64),
                    np.asarray(lag_weights, np.float64),
                    np.asarray(slot_scale, np.float64).ravel(),
                ]
            )
        )
        slot_buffer = self._storage(np.asarray(slots), np.uint32)
        pipes = self._pipes
        codes, frames = (self._ring, self._dummy) if self._quantized else (self._dummy, self._ring)
        group = self._group(
            pipes.dwell_layout,
            [grid, self.state.current_buffer, params, slot_buffer, codes, frames,
             self.dwell_buffer],
        )
        gx, gy = _flat_groups(words if self._quantized else n)
        pipeline = pipes.dwell_codes if self._quantized else pipes.dwell_float
        self._run([(pipeline, group, (gx, gy, batch))])

    def use_recursive(self) -> None:
        """Allocate (zeroed) the state of the recursive dwell on the GPU: the previous
        frame and tau of every member (2 fields)."""
        if self._ring is not None:
            self._ring.destroy()
        self._ring = self.ctx.device.create_buffer(
            label="dwell state", size=2 * self.state.nbytes, usage=_STORAGE | _COPY
        )
        self._history = 0

    def recursive_dwell(
        self, inv_h: np.ndarray, decay: float, increment: float, rate: float
    ) -> None:
        """The recursive tau of the current frame (into dwell_buffer), from the state of
        :meth:`use_recursive`, which then holds this frame and its tau. The parameters are
        those of :meth:`MetricKernels.recursive_dwell
        <resonance_engine.backends.base.MetricKernels.recursive_dwell>`."""
        if self._ring is None or self._history:
            raise BackendError("WgpuMetricFields.recursive_dwell: call use_recursive() first")
        batch, ny, nx = self.shape
        params = self._storage(
            np.concatenate([np.asarray(inv_h, np.float64), [decay, increment, rate]])
        )
        grid = self._uniform((nx, ny, batch, 0, 0, 0, 0))
        pipes = self._pipes
        group = self._group(
            pipes.dwell_layout,
            [grid, self.state.current_buffer, params, self._storage(np.zeros(1), np.uint32),
             self._dummy, self._ring, self.dwell_buffer],
        )
        gx, gy = _flat_groups(ny * nx)
        self._run([(pipes.dwell_recursive, group, (gx, gy, batch))])

    def combine(self, gamma: float) -> np.ndarray:
        """E = G C (1 - exp(-tau / gamma)) into ci_buffer, and the spatial means.

        Returns
        -------
        ndarray of float64, shape (batch, 4)
            Per member the means of G, C, tau and E.
        """
        batch, ny, nx = self.shape
        n = ny * nx
        groups = min(_ceil_div(n, _GROUP), _GROUP)
        pipes = self._pipes
        part = self.ctx.device.create_buffer(
            size=4 * batch * groups * self.dtype.itemsize, usage=_STORAGE | _COPY
        )
        group = self._group(
            pipes.combine_layout,
            [
                self._uniform((nx, ny)),
                self._storage(np.asarray([1.0 / gamma])),
                self.gain_buffer,
                self.coherence_buffer,
                self.dwell_buffer,
                self.ci_buffer,
                part,
            ],
        )
        self._run([(pipes.combine, group, (groups, 1, batch))])
        data = np.frombuffer(self.ctx.device.queue.read_buffer(part), dtype=self.dtype)
        part.destroy()
        sums: np.ndarray = data.reshape(batch, groups, 4).astype(np.float64).sum(axis=1)
        return sums / n

    def first_cells(self) -> np.ndarray:
        """u[n][k, 0, 0] of every member (a read-back of one value per member)."""
        batch, ny, nx = self.shape
        item = self.dtype.itemsize
        queue = self.ctx.device.queue
        return np.array(
            [
                np.frombuffer(
                    queue.read_buffer(self.state.current_buffer, k * ny * nx * item, item),
                    dtype=self.dtype,
                )[0]
                for k in range(batch)
            ],
            dtype=np.float64,
        )


# ---------------------------------------------------------------------- MetricKernels
_scratch: dict[tuple[tuple[int, int, int], str], tuple[WgpuFieldState, WgpuMetricFields]] = {}


def _on_gpu(u: np.ndarray) -> tuple[WgpuFieldState, WgpuMetricFields]:
    shape = (int(u.shape[0]), int(u.shape[1]), int(u.shape[2]))
    key = (shape, u.dtype.name)
    if key not in _scratch:
        state = WgpuFieldState(shape, u.dtype)
        _scratch[key] = (state, WgpuMetricFields(state))
    state, fields = _scratch[key]
    current = np.ascontiguousarray(u)
    state.upload(current, current)
    return state, fields


def frame_stats(u: np.ndarray) -> np.ndarray:
    """Host-array form of :meth:`WgpuFieldState.frame_stats` (upload, reduce)."""
    state, _ = _on_gpu(u)
    return state.frame_stats()


def box_counts(u: np.ndarray, threshold: np.ndarray, levels: int, boundary: bool) -> np.ndarray:
    """Host-array form of :meth:`WgpuFieldState.box_counts` (upload, count)."""
    state, _ = _on_gpu(u)
    return state.box_counts(threshold, levels, boundary)


def gain(u: np.ndarray, window: int, out: np.ndarray) -> None:
    """Host-array form of :meth:`WgpuMetricFields.gain` (upload, run, download)."""
    _, fields = _on_gpu(u)
    fields.gain(window)
    out[...] = fields.read(fields.gain_buffer)


def local_variance(
    u: np.ndarray,
    weights: np.ndarray,
    shift: np.ndarray,
    out: np.ndarray,
    inward: bool = False,
    relative: bool = False,
) -> None:
    """Host-array form of the Gaussian local variance (upload, run, download)."""
    _, fields = _on_gpu(u)
    fields.coherence(weights, shift, "relative" if relative else "variance", 1.0, 1.0,
                     inward=inward)
    out[...] = fields.read(fields.coherence_buffer)


def shifted_box_counts(
    u: np.ndarray,
    threshold: np.ndarray,
    levels: int,
    boundary: bool,
    base: int = 2,
    shifted: bool = True,
) -> np.ndarray:
    """Host-array form of :meth:`WgpuFieldState.shifted_box_counts` (upload, count)."""
    state, _ = _on_gpu(u)
    return state.shifted_box_counts(threshold, levels, boundary, base, shifted)


def recursive_dwell(
    u: np.ndarray,
    state: np.ndarray,
    inv_h: np.ndarray,
    decay: float,
    increment: float,
    rate: float,
    out: np.ndarray,
) -> None:
    """Host-array form of :meth:`WgpuMetricFields.recursive_dwell`: uploads the state,
    runs, and reads back tau and the new state."""
    _, fields = _on_gpu(u)
    fields.use_recursive()
    queue = fields.ctx.device.queue
    queue.write_buffer(fields._ring, 0, np.ascontiguousarray(state, dtype=u.dtype))
    fields.recursive_dwell(inv_h, decay, increment, rate)
    out[...] = fields.read(fields.dwell_buffer)
    state[...] = np.frombuffer(queue.read_buffer(fields._ring), dtype=u.dtype).reshape(state.shape)


def dwell(
    u: np.ndarray,
    history: np.ndarray,
    slots: np.ndarray,
    lag_weights: np.ndarray,
    slot_scale: np.ndarray,
    inv_h: np.ndarray,
    store_slot: int,
    store_scale: np.ndarray,
    out: np.ndarray,
) -> None:
    """Host-array form of :meth:`WgpuMetricFields.dwell`: uploads the whole history.

    ``history`` is updated in place (the stored frame), as in the numpy reference.
    """
    _, fields = _on_gpu(u)
    batch, k, ny, nx = history.shape
    quantized = history.dtype == np.int16
    fields.use_history(k, quantized)
    queue = fields.ctx.device.queue
    if quantized:
        n = ny * nx
        packed = np.zeros((batch, k, 2 * _ceil_div(n, 2)), dtype=np.int16)
        packed[:, :, :n] = history.reshape(batch, k, n)
        queue.write_buffer(fields._ring, 0, packed)
    else:
        queue.write_buffer(fields._ring, 0, np.ascontiguousarray(history, dtype=u.dtype))
    fields.dwell(slots, lag_weights, slot_scale, inv_h, store_slot, store_scale)
    out[...] = fields.read(fields.dwell_buffer)
    if store_slot >= 0:
        ring = queue.read_buffer(fields._ring)
        if quantized:
            codes = np.frombuffer(ring, dtype=np.int16).reshape(batch, k, -1)
            history[:, store_slot] = codes[:, store_slot, : ny * nx].reshape(batch, ny, nx)
        else:
            frames = np.frombuffer(ring, dtype=u.dtype).reshape(history.shape)
            history[:, store_slot] = frames[:, store_slot]


def analyze_frame(
    u: np.ndarray, params: FrameParams, fields: tuple[np.ndarray, ...] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Host-array form of :meth:`MetricKernels.analyze_frame`: the GPU kernels above, each
    with its upload and download, and the sums on the host (for checks; the analyzer's
    wgpu path is :class:`~resonance_engine.backends.wgpu_gpu.analysis.ResidentMeasures`).
    """
    p = params
    state, gpu = _on_gpu(u)
    if p.offsets or p.base != 2:
        counts = state.shifted_box_counts(p.threshold, p.levels, p.boundary, p.base, p.offsets)
    else:
        counts = state.box_counts(p.threshold, p.levels, p.boundary)
    gpu.gain(p.gain_window)
    g = gpu.read(gpu.gain_buffer)
    gpu.coherence(p.weights, p.shift, "local" if p.coh_local else "affine", p.coh_b, p.coh_a,
                  moment_scale=p.moment_scale, inward=p.inward, rescale=False)
    c = gpu.read(gpu.coherence_buffer).astype(np.float64)
    tau = np.empty_like(u)
    if p.recursive is not None:
        recursive_dwell(u, p.recursive, p.inv_h, p.decay, p.increment, p.decay_rate, tau)
    else:
        dwell(u, p.history, p.slots, p.lag_weights, p.slot_scale, p.inv_h, p.store_slot,
              p.store_scale, tau)
    h = -np.expm1(-tau.astype(np.float64) / p.gamma)
    flat = (u.shape[0], -1)
    sums = np.stack(
        [
            g.reshape(flat).sum(axis=1, dtype=np.float64),
            c.reshape(flat).sum(axis=1),
            tau.reshape(flat).sum(axis=1, dtype=np.float64),
            (g * c * h).reshape(flat).sum(axis=1),
            (g * h).reshape(flat).sum(axis=1),
            c.reshape(flat).min(axis=1),
            c.reshape(flat).max(axis=1),
        ],
        axis=1,
    )
    if fields is not None:
        for dst, src in zip(fields, (g, c, tau), strict=True):
            dst[...] = src
    return sums, counts
