"""Leapfrog stepping with the fields resident on a GPU (WGSL shaders, through wgpu).

:class:`WgpuFieldState` owns two GPU buffers (u[n] and u[n-1] of every batch member) and
advances them with the shaders of ``shaders/leapfrog.wgsl``: each step is one dispatch
over the grid (the in-place update u[n+1] over u[n-1]: two loads and one store per cell),
one over the source cells and, for absorbing edges, one over the outer ring. A call to
:meth:`WgpuFieldState.leapfrog_steps` records all its steps into command buffers of
:data:`STEPS_PER_SUBMIT` steps and submits each without waiting: nothing comes back to
the host until a read-back (:meth:`~WgpuFieldState.current`) or a reduction: the
finiteness check, the energy sums, a block-mean frame, frame statistics and box counts
(``shaders/reduce.wgsl``, ``readback.wgsl``, ``boxcount.wgsl``), which return only their
results.

The module-level :func:`leapfrog_steps` and :func:`triad` implement the
:class:`~resonance_engine.backends.base.FieldKernels` protocol on host arrays (upload,
run, download): they exist to check the shaders against the numpy reference.

Limits: float32 fields, and float64 where the adapter has the "shader-f64" feature (not
with the tanh feedback: Vulkan has no 64-bit tanh); the built-in feedback terms only
(a Python callable cannot run in a shader).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import wgpu

from resonance_engine.backends.base import FEEDBACK_CODES, LeapfrogCoefficients, SourceStencil
from resonance_engine.backends.box_grid import shift_factor, source_drop, tight_mean
from resonance_engine.backends.wgpu_gpu.device import GpuContext, gpu_context
from resonance_engine.errors import BackendError

__all__ = [
    "WgpuFieldState",
    "make_field_state",
    "leapfrog_steps",
    "triad",
    "STEPS_PER_SUBMIT",
    "WORKGROUP_ENV",
    "interior_workgroup",
]

#: Steps recorded into one command buffer. Each buffer is submitted as soon as it is
#: recorded, so the GPU runs one while Python records the next (recording costs tens of
#: microseconds per step in wgpu-py, about as long as a 4096x4096 step on a big GPU).
STEPS_PER_SUBMIT = 64

_STORAGE = wgpu.BufferUsage.STORAGE
_COPY = wgpu.BufferUsage.COPY_SRC | wgpu.BufferUsage.COPY_DST
#: Environment variable with the workgroup shape of the interior step, "COLUMNSxROWS".
WORKGROUP_ENV = "RESONANCE_WGPU_WORKGROUP"
_DEFAULT_GROUP = (64, 4)
_LINE_GROUP = 64  # workgroup size of add_sources and apply_mur
_REDUCE_GROUP = 256
_MAX_GROUPS = 65535


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _layout_entry(binding: int, kind: str, dynamic: bool = False) -> dict[str, Any]:
    return {
        "binding": binding,
        "visibility": wgpu.ShaderStage.COMPUTE,
        "buffer": {"type": kind, "has_dynamic_offset": dynamic},
    }


def interior_workgroup(ctx: GpuContext) -> tuple[int, int]:
    """The workgroup shape (columns, rows) of the interior step: ``RESONANCE_WGPU_WORKGROUP``
    ("128x2", ...) or 64 x 4. A knob for tuning on a given GPU; results do not depend on it.
    """
    text = os.environ.get(WORKGROUP_ENV, "").strip()
    if not text:
        return _DEFAULT_GROUP
    limit = int(ctx.device.limits["max-compute-invocations-per-workgroup"])
    try:
        x, y = (int(v) for v in text.lower().split("x"))
    except ValueError:
        x = y = 0
    if x < 1 or y < 1 or x * y > limit:
        raise BackendError(
            f"{WORKGROUP_ENV}={text!r} is not a workgroup shape COLUMNSxROWS with at most "
            f"{limit} invocations on {ctx.description}; use e.g. 64x4 (the default) or 128x2"
        )
    return x, y


def check_support(ctx: GpuContext, dtype: np.dtype, feedback: int) -> None:
    """Raise BackendError for what the shaders cannot run on this adapter."""
    if dtype == np.float64 and not ctx.has_f64:
        raise BackendError(
            f"backend 'wgpu': the adapter {ctx.description} has no 64-bit float support "
            "(feature 'shader-f64'); use dtype='float32' or a CPU backend"
        )
    if dtype not in (np.float32, np.float64):
        raise BackendError(f"backend 'wgpu' steps float32 or float64 fields, got {dtype}")
    if feedback == FEEDBACK_CODES["custom"]:
        raise BackendError(
            "backend 'wgpu' cannot run a Python feedback callable in a shader; use "
            "feedback='cubic' or 'tanh', or backend='numba' for a custom f(u)"
        )
    if feedback == FEEDBACK_CODES["tanh"] and dtype == np.float64:
        raise BackendError(
            "backend 'wgpu' has no 64-bit tanh (Vulkan lacks it); use dtype='float32' with "
            "feedback='tanh', or a CPU backend"
        )


class _Pipelines:
    """The compiled pipelines and layouts for one (device, dtype), shared by all states."""

    def __init__(self, ctx: GpuContext, dtype: np.dtype, group: tuple[int, int]) -> None:
        device = ctx.device
        self.group = group
        self.params = device.create_bind_group_layout(
            entries=[_layout_entry(0, "uniform"), _layout_entry(1, "read-only-storage")]
        )
        self.fields = device.create_bind_group_layout(
            entries=[_layout_entry(0, "read-only-storage"), _layout_entry(1, "storage")]
        )
        self.sources = device.create_bind_group_layout(
            entries=[_layout_entry(b, "read-only-storage") for b in range(4)]
            + [_layout_entry(4, "read-only-storage", dynamic=True)]
        )
        module = ctx.shader("leapfrog", dtype)
        plain = device.create_pipeline_layout(bind_group_layouts=[self.params, self.fields])
        with_sources = device.create_pipeline_layout(
            bind_group_layouts=[self.params, self.fields, self.sources]
        )

        def pipeline(layout: Any, entry: str, constants: dict[str, int] | None = None) -> Any:
            stage: dict[str, Any] = {"module": module, "entry_point": entry}
            if constants:
                stage["constants"] = constants
            return device.create_compute_pipeline(label=entry, layout=layout, compute=stage)

        self.interior = pipeline(plain, "step_interior", {"GROUP_X": group[0], "GROUP_Y": group[1]})
        self.add_sources = pipeline(with_sources, "add_sources")
        self.mur = pipeline(plain, "apply_mur")
        reduce = ctx.shader("reduce")
        self.reduce_layout = device.create_bind_group_layout(
            entries=[
                _layout_entry(0, "uniform"),
                _layout_entry(1, "read-only-storage"),
                _layout_entry(2, "storage"),
            ]
        )
        self.flag_nonfinite = device.create_compute_pipeline(
            label="flag_nonfinite",
            layout=device.create_pipeline_layout(bind_group_layouts=[self.reduce_layout]),
            compute={"module": reduce, "entry_point": "flag_nonfinite"},
        )
        readback = ctx.shader("readback", dtype)
        self.readback_layout = device.create_bind_group_layout(
            entries=[
                _layout_entry(0, "uniform"),
                _layout_entry(1, "read-only-storage"),
                _layout_entry(2, "read-only-storage"),
                _layout_entry(3, "storage"),
            ]
        )
        readback_layout = device.create_pipeline_layout(bind_group_layouts=[self.readback_layout])
        self.energy_sums, self.block_mean, self.frame_sums = (
            device.create_compute_pipeline(
                label=entry,
                layout=readback_layout,
                compute={"module": readback, "entry_point": entry},
            )
            for entry in ("energy_sums", "block_mean", "frame_sums")
        )
        boxes = ctx.shader("boxcount", dtype)
        self.box_layout = device.create_bind_group_layout(
            entries=[
                _layout_entry(0, "uniform", dynamic=True),
                _layout_entry(1, "read-only-storage"),
                _layout_entry(2, "read-only-storage"),
                _layout_entry(3, "read-only-storage"),
                _layout_entry(4, "storage"),
                _layout_entry(5, "storage"),
            ]
        )
        box_layout = device.create_pipeline_layout(bind_group_layouts=[self.box_layout])
        self.boxes_level0, self.boxes_level, self.shifted_boxes = (
            device.create_compute_pipeline(
                label=entry, layout=box_layout, compute={"module": boxes, "entry_point": entry}
            )
            for entry in ("boxes_level0", "boxes_level", "shifted_boxes")
        )


_pipelines: dict[tuple[int, str, tuple[int, int]], _Pipelines] = {}


def _pipelines_for(ctx: GpuContext, dtype: np.dtype) -> _Pipelines:
    group = interior_workgroup(ctx)
    key = (id(ctx.device), dtype.name, group)
    if key not in _pipelines:
        _pipelines[key] = _Pipelines(ctx, dtype, group)
    return _pipelines[key]


class WgpuFieldState:
    """Two fields per batch member in GPU memory, advanced by WGSL leapfrog shaders.

    Implements :class:`~resonance_engine.backends.base.FieldState`.

    Parameters
    ----------
    shape : tuple of int
        (batch, ny, nx).
    dtype : numpy.dtype
        float32, or float64 where the adapter supports it.
    feedback : int
        Feedback code the fields will be stepped with (custom callables are refused).
    context : GpuContext, optional
        The GPU to use (default: the process's :func:`gpu_context`).

    Raises
    ------
    BackendError
        No adapter, an unsupported dtype/feedback, or a grid larger than the adapter's
        largest storage binding.
    """

    resident = True

    def __init__(
        self,
        shape: tuple[int, int, int],
        dtype: np.dtype,
        feedback: int = 0,
        context: GpuContext | None = None,
    ) -> None:
        self.ctx = ctx = context or gpu_context()
        self.dtype = np.dtype(dtype)
        check_support(ctx, self.dtype, feedback)
        self.shape = (int(shape[0]), int(shape[1]), int(shape[2]))
        batch, ny, nx = self.shape
        self.nbytes = batch * ny * nx * self.dtype.itemsize
        if self.nbytes > ctx.max_binding:
            raise BackendError(
                f"backend 'wgpu': {batch} field(s) of {ny}x{nx} {self.dtype.name} need "
                f"{self.nbytes / 2**20:.0f} MiB per buffer, the adapter {ctx.description} "
                f"binds at most {ctx.max_binding / 2**20:.0f} MiB; use a smaller grid or batch"
            )
        self._pipes = _pipelines_for(ctx, self.dtype)
        device = ctx.device
        self._fields = [
            device.create_buffer(label=f"field {n}", size=self.nbytes, usage=_STORAGE | _COPY)
            for n in range(2)
        ]
        self._newest = 0  # index of the buffer holding u[n]
        self._grid = device.create_buffer(
            label="grid", size=32, usage=wgpu.BufferUsage.UNIFORM | wgpu.BufferUsage.COPY_DST
        )
        self._coef = device.create_buffer(
            label="coef", size=(8 + 2 * batch) * self.dtype.itemsize, usage=_STORAGE | _COPY
        )
        self._params_group = device.create_bind_group(
            layout=self._pipes.params,
            entries=[
                {"binding": 0, "resource": {"buffer": self._grid}},
                {"binding": 1, "resource": {"buffer": self._coef}},
            ],
        )
        # pair[n]: read buffer n as u[n], write u[n+1] over the other one.
        self._pairs = [
            device.create_bind_group(
                layout=self._pipes.fields,
                entries=[
                    {"binding": 0, "resource": {"buffer": self._fields[n]}},
                    {"binding": 1, "resource": {"buffer": self._fields[1 - n]}},
                ],
            )
            for n in range(2)
        ]
        self._stencil: SourceStencil | None = None
        self._n_cells = 0
        self._source_buffers: list[Any] = []
        self._drive: Any = None
        self._drive_group: Any = None
        self._drive_capacity = 0
        self._drive_stride = 0
        self._n_sources = -1
        self._grid_words: tuple[int, ...] = ()
        self._flags: Any = None
        self._flags_group: list[Any] = []
        self._box_flags: list[Any] = []  # the two flag pyramids of box_counts, made once
        self.zero()

    # ------------------------------------------------------------------ transfers
    def upload(self, u: np.ndarray, u_prev: np.ndarray) -> None:
        """Replace both fields (host arrays of :attr:`shape`)."""
        queue = self.ctx.device.queue
        queue.write_buffer(self._fields[0], 0, np.ascontiguousarray(u, dtype=self.dtype))
        queue.write_buffer(self._fields[1], 0, np.ascontiguousarray(u_prev, dtype=self.dtype))
        self._newest = 0

    def _read(self, index: int) -> np.ndarray:
        data = self.ctx.device.queue.read_buffer(self._fields[index])
        return np.frombuffer(data, dtype=self.dtype).reshape(self.shape)

    @property
    def current_buffer(self) -> Any:
        """The GPU buffer that holds u[n] now (it changes with every step)."""
        return self._fields[self._newest]

    def current(self) -> np.ndarray:
        """u[n], shape (batch, ny, nx), read back from the GPU (a copy)."""
        return self._read(self._newest)

    def previous(self) -> np.ndarray:
        """u[n-1], shape (batch, ny, nx), read back from the GPU (a copy)."""
        return self._read(1 - self._newest)

    def zero(self) -> None:
        """Set both fields to 0 on the GPU."""
        encoder = self.ctx.device.create_command_encoder()
        for buffer in self._fields:
            encoder.clear_buffer(buffer)
        self.ctx.device.queue.submit([encoder.finish()])
        self._newest = 0

    # ------------------------------------------------------------------ stepping
    def _write_parameters(self, coeffs: LeapfrogCoefficients, n_sources: int) -> None:
        batch, ny, nx = self.shape
        words = (nx, ny, batch, coeffs.boundary, coeffs.feedback, self._n_cells, n_sources, 0)
        queue = self.ctx.device.queue
        if words != self._grid_words:
            queue.write_buffer(self._grid, 0, np.asarray(words, dtype=np.uint32))
            self._grid_words = words
        head = [
            coeffs.cx2,
            coeffs.cy2,
            coeffs.dt2,
            coeffs.feedback_strength,
            coeffs.mur_x,
            coeffs.mur_y,
            0.0,
            0.0,
        ]
        coef = np.concatenate(
            [
                head,
                np.broadcast_to(coeffs.prev_coef, batch),
                np.broadcast_to(coeffs.inv_denom, batch),
            ]
        ).astype(self.dtype)
        queue.write_buffer(self._coef, 0, coef)

    def _set_sources(self, sources: SourceStencil) -> None:
        """Upload the source cells as a CSR table (distinct cells, so no write races)."""
        if sources is self._stencil:
            return
        for buffer in self._source_buffers:
            buffer.destroy()
        self._stencil = sources
        self._source_buffers = []
        self._drive_group = None
        self._n_sources = -1
        cells = np.asarray(sources.cells, dtype=np.int64)
        self._n_cells = 0
        if cells.size == 0:
            return
        order = np.argsort(cells, kind="stable")
        unique, counts = np.unique(cells[order], return_counts=True)
        start = np.concatenate([[0], np.cumsum(counts)]).astype(np.uint32)
        arrays = [
            unique.astype(np.uint32),
            start,
            np.asarray(sources.weight)[order].astype(self.dtype),
            np.asarray(sources.owner)[order].astype(np.uint32),
        ]
        device = self.ctx.device
        self._source_buffers = [
            device.create_buffer_with_data(label="sources", data=a, usage=_STORAGE) for a in arrays
        ]
        self._n_cells = int(unique.size)

    def _ensure_drive(self, steps: int, n_values: int) -> None:
        """A drive buffer with room for ``steps`` rows of ``n_values`` values each."""
        itemsize = self.dtype.itemsize
        stride = _ceil_div(max(n_values, 1) * itemsize, self.ctx.storage_align)
        stride *= self.ctx.storage_align
        if self._drive_group is not None and stride == self._drive_stride:
            if steps <= self._drive_capacity:
                return
        capacity = max(steps, 16)
        if self._drive is not None:
            self._drive.destroy()
        device = self.ctx.device
        self._drive = device.create_buffer(
            label="drive", size=capacity * stride, usage=_STORAGE | _COPY
        )
        self._drive_capacity = capacity
        self._drive_stride = stride
        self._drive_group = device.create_bind_group(
            layout=self._pipes.sources,
            entries=[
                {"binding": b, "resource": {"buffer": buf}}
                for b, buf in enumerate(self._source_buffers)
            ]
            + [{"binding": 4, "resource": {"buffer": self._drive, "offset": 0, "size": stride}}],
        )

    def leapfrog_steps(
        self,
        coeffs: LeapfrogCoefficients,
        sources: SourceStencil,
        drive: np.ndarray,
        feedback_fn: Callable[[float], float] | None = None,
    ) -> None:
        """Record and submit ``drive.shape[0]`` steps; returns without waiting for the GPU.

        Parameters
        ----------
        coeffs : LeapfrogCoefficients
        sources : SourceStencil
            Uploaded once and kept while the same object is passed.
        drive : ndarray, shape (steps, batch, n_sources)
            Amount added per unit weight by each source at each step.
        feedback_fn : None
            Must be None: custom feedback is refused (BackendError).
        """
        if coeffs.feedback == FEEDBACK_CODES["custom"]:
            check_support(self.ctx, self.dtype, coeffs.feedback)
        batch, ny, nx = self.shape
        steps, n_sources = int(drive.shape[0]), int(drive.shape[2])
        self._set_sources(sources)
        self._write_parameters(coeffs, n_sources)
        with_sources = self._n_cells > 0
        for first in range(0, steps, STEPS_PER_SUBMIT):
            chunk = min(STEPS_PER_SUBMIT, steps - first)
            if with_sources:
                self._upload_drive(drive[first : first + chunk], batch * n_sources)
            self._submit_steps(chunk, coeffs.boundary, with_sources)

    def _upload_drive(self, drive: np.ndarray, n_values: int) -> None:
        steps = drive.shape[0]
        self._ensure_drive(steps, n_values)
        row = self._drive_stride // self.dtype.itemsize
        table = np.zeros((steps, row), dtype=self.dtype)
        table[:, :n_values] = drive.reshape(steps, n_values)
        self.ctx.device.queue.write_buffer(self._drive, 0, table)

    def _submit_steps(self, steps: int, boundary: int, with_sources: bool) -> None:
        batch, ny, nx = self.shape
        pipes = self._pipes
        grid_x = _ceil_div(nx, pipes.group[0])
        grid_y = _ceil_div(ny, pipes.group[1])
        source_groups = _ceil_div(self._n_cells, _LINE_GROUP)
        ring_groups = _ceil_div(2 * (ny - 2) + 2 * nx, _LINE_GROUP)
        encoder = self.ctx.device.create_command_encoder()
        compute = encoder.begin_compute_pass()
        compute.set_bind_group(0, self._params_group)
        newest = self._newest
        for s in range(steps):
            compute.set_bind_group(1, self._pairs[newest])
            compute.set_pipeline(pipes.interior)
            compute.dispatch_workgroups(grid_x, grid_y, batch)
            if with_sources:
                compute.set_pipeline(pipes.add_sources)
                compute.set_bind_group(2, self._drive_group, [s * self._drive_stride])
                compute.dispatch_workgroups(source_groups, 1, batch)
            if boundary == 2:
                compute.set_pipeline(pipes.mur)
                compute.dispatch_workgroups(ring_groups, 1, batch)
            newest = 1 - newest
        compute.end()
        self.ctx.device.queue.submit([encoder.finish()])
        self._newest = newest

    # ------------------------------------------------------------------ checks
    def finite_members(self) -> np.ndarray:
        """Which batch members hold only finite values in u[n]: bool, shape (batch,).

        A reduction on the GPU (the exponent bits of every value); only ``batch`` words
        come back.
        """
        batch, ny, nx = self.shape
        device = self.ctx.device
        if self._flags is None:
            self._flags = device.create_buffer(
                label="nonfinite", size=4 * batch, usage=_STORAGE | _COPY
            )
            f64 = self.dtype == np.float64
            words = np.asarray(
                [
                    ny * nx * (2 if f64 else 1),
                    2 if f64 else 1,
                    1 if f64 else 0,
                    0x7FF00000 if f64 else 0x7F800000,
                ],
                dtype=np.uint32,
            )
            params = device.create_buffer_with_data(
                label="words", data=words, usage=wgpu.BufferUsage.UNIFORM
            )
            self._flags_group = [
                device.create_bind_group(
                    layout=self._pipes.reduce_layout,
                    entries=[
                        {"binding": 0, "resource": {"buffer": params}},
                        {"binding": 1, "resource": {"buffer": field}},
                        {"binding": 2, "resource": {"buffer": self._flags}},
                    ],
                )
                for field in self._fields
            ]
        groups = min(_ceil_div(ny * nx, _REDUCE_GROUP), 1024)
        encoder = device.create_command_encoder()
        encoder.clear_buffer(self._flags)
        compute = encoder.begin_compute_pass()
        compute.set_pipeline(self._pipes.flag_nonfinite)
        compute.set_bind_group(0, self._flags_group[self._newest])
        compute.dispatch_workgroups(groups, 1, batch)
        compute.end()
        device.queue.submit([encoder.finish()])
        flags = np.frombuffer(device.queue.read_buffer(self._flags), dtype=np.uint32)
        finite: np.ndarray = flags == 0
        return finite

    def _run_readback(
        self, pipeline: Any, words: tuple[int, ...], second: Any, nbytes: int, groups: tuple
    ) -> np.ndarray:
        """Run a readback.wgsl entry point on u[n] (and ``second``); return its result."""
        device = self.ctx.device
        uniform = device.create_buffer_with_data(
            data=np.asarray(words, dtype=np.uint32), usage=wgpu.BufferUsage.UNIFORM
        )
        result = device.create_buffer(size=max(nbytes, 16), usage=_STORAGE | _COPY)
        group = device.create_bind_group(
            layout=self._pipes.readback_layout,
            entries=[
                {"binding": 0, "resource": {"buffer": uniform}},
                {"binding": 1, "resource": {"buffer": self._fields[self._newest]}},
                {"binding": 2, "resource": {"buffer": second}},
                {"binding": 3, "resource": {"buffer": result}},
            ],
        )
        encoder = device.create_command_encoder()
        compute = encoder.begin_compute_pass()
        compute.set_pipeline(pipeline)
        compute.set_bind_group(0, group)
        compute.dispatch_workgroups(*groups)
        compute.end()
        device.queue.submit([encoder.finish()])
        data = np.frombuffer(device.queue.read_buffer(result, 0, nbytes), dtype=self.dtype)
        uniform.destroy()
        result.destroy()
        return data

    def energy_sums(self, periodic: bool) -> np.ndarray:
        """The three sums of the discrete energy per member, reduced on the GPU.

        Returns
        -------
        ndarray of float64, shape (batch, 3)
            sum (u[n] - u[n-1])^2, sum over x-edges of the products of the differences
            of u[n] and u[n-1] across the edge, the same over y-edges (see
            :func:`resonance_engine.field.energy.energy_from_sums`). Partial sums per
            workgroup are in the field's float type, their total in float64.
        """
        batch, ny, nx = self.shape
        groups = min(_ceil_div(ny * nx, _REDUCE_GROUP), 256)
        partial = self._run_readback(
            self._pipes.energy_sums,
            (nx, ny, int(periodic), 1),
            self._fields[1 - self._newest],
            batch * groups * 3 * self.dtype.itemsize,
            (groups, 1, batch),
        )
        sums: np.ndarray = partial.reshape(batch, groups, 3).astype(np.float64).sum(axis=1)
        return sums

    def frame(self, factor: int) -> np.ndarray:
        """u[n] averaged over ``factor`` x ``factor`` blocks, computed on the GPU.

        Returns
        -------
        ndarray, shape (batch, ny // factor, nx // factor)
            Only full blocks: the last rows/columns that do not fill one are left out.
        """
        batch, ny, nx = self.shape
        out_ny, out_nx = ny // factor, nx // factor
        data = self._run_readback(
            self._pipes.block_mean,
            (nx, ny, 0, factor),
            self._fields[self._newest],
            batch * out_ny * out_nx * self.dtype.itemsize,
            (_ceil_div(out_nx, 16), _ceil_div(out_ny, 16), batch),
        )
        return data.reshape(batch, out_ny, out_nx)

    def frame_stats(self) -> np.ndarray:
        """Per member: mean, mean square and max |u| of u[n], reduced on the GPU.

        The same contract as :meth:`MetricKernels.frame_stats
        <resonance_engine.backends.base.MetricKernels.frame_stats>`: shape (batch, 3),
        float64; a NaN or inf in a member makes its row non-finite.
        """
        batch, ny, nx = self.shape
        groups = min(_ceil_div(ny * nx, _REDUCE_GROUP), 256)
        current = self._fields[self._newest]
        partial = self._run_readback(
            self._pipes.frame_sums,
            (nx, ny, 0, 1),
            current,
            batch * groups * 3 * self.dtype.itemsize,
            (groups, 1, batch),
        )
        parts = partial.reshape(batch, groups, 3).astype(np.float64)
        cells = float(nx * ny)
        stats: np.ndarray = np.stack(
            [parts[:, :, 0].sum(1) / cells, parts[:, :, 1].sum(1) / cells, parts[:, :, 2].max(1)],
            axis=1,
        )
        return stats

    def box_counts(self, threshold: np.ndarray, levels: int, boundary: bool) -> np.ndarray:
        """Box counts of |u[n]| > threshold[k] at sizes 1, 2, ..., 2**levels, on the GPU.

        The same contract as :meth:`MetricKernels.box_counts
        <resonance_engine.backends.base.MetricKernels.box_counts>`: shape
        (batch, levels + 1), float64; only the counts come back.
        """
        rows, _ = self._count_boxes(threshold, levels, boundary, 2, False)
        return rows[:, : levels + 1].astype(np.float64)

    def shifted_box_counts(
        self, threshold: np.ndarray, levels: int, boundary: bool, base: int = 2,
        shifted: bool = True,
    ) -> np.ndarray:
        """Box counts over shifted box grids at sizes base^0 .. base^levels, on the GPU.

        The contract of :meth:`MetricKernels.shifted_box_counts
        <resonance_engine.backends.base.MetricKernels.shifted_box_counts>`: the GPU counts
        every shifted grid (``shifted_boxes`` of ``boxcount.wgsl``) and the mask's extent;
        the mean over the tight (or, in boundary mode, all) shifts is taken here from
        those few numbers.
        """
        batch, ny, nx = self.shape
        rows, blocks = self._count_boxes(threshold, levels, boundary, base, shifted)
        counts = rows[:, : levels + 1].astype(np.float64)
        if blocks and not boundary:
            words = rows[:, levels + 1 : levels + 5].astype(np.int64)
            box = np.stack([0xFFFFFFFF - words[:, 0], words[:, 1], 0xFFFFFFFF - words[:, 2],
                            words[:, 3]], axis=1)
            box[counts[:, 0] == 0] = (0, ny - 1, 0, nx - 1)
        for level, (at, n) in blocks.items():
            size = base**level
            found = rows[:, at : at + n * n].reshape(batch, n, n).astype(np.float64)
            for k in range(batch):
                counts[k, level] = (
                    found[k].mean() if boundary else tight_mean(found[k], box[k], size, size // n)
                )
        return counts

    def _count_boxes(
        self, threshold: np.ndarray, levels: int, boundary: bool, base: int, shifted: bool
    ) -> tuple[np.ndarray, dict[int, tuple[int, int]]]:
        """Run the box pyramid (and the shifted counts) on u[n]; return the raw rows.

        Returns
        -------
        rows : ndarray of uint32, shape (batch, slots)
            The aligned counts of levels 0..levels, then (when shifted) the extent words
            of level 0 and a block of n x n counts per shifted level.
        blocks : dict of int to (int, int)
            Per shifted level: where its block starts in a row and n (shifts per axis).
        """
        batch, ny, nx = self.shape
        device = self.ctx.device
        thresholds = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (batch,))
        if self.dtype == np.float32:
            # |u| > t for float32 u is |u| > (the largest float32 <= t)
            t32 = thresholds.astype(np.float32)
            t32 = np.where(t32 > thresholds, np.nextafter(t32, np.float32(-np.inf)), t32)
            thresholds = t32.astype(np.float64)
        # the shifted levels, grouped by the pyramid level they are counted from
        by_source: dict[int, list[tuple[int, int]]] = {}
        blocks: dict[int, tuple[int, int]] = {}
        slots = levels + 1
        if shifted:
            slots += 4  # the extent words of level 0
            for level in range(1, levels + 1):
                n = shift_factor(base**level, base)
                if n > 1:
                    blocks[level] = (slots, n)
                    by_source.setdefault(level - source_drop(n, base), []).append((level, n))
                    slots += n * n
        dims = [(nx, ny)]
        for _ in range(levels):
            dims.append((_ceil_div(dims[-1][0], base), _ceil_div(dims[-1][1], base)))
        align = int(device.limits["min-uniform-buffer-offset-alignment"])
        stride = _ceil_div(48, align) * align
        # (pipeline, row of the uniform table, workgroups, g: it runs with groups[g % 2])
        entries: list[tuple[Any, int, tuple[int, int, int], int]] = []
        words: list[tuple[int, ...]] = []
        extent_at = levels + 1 if shifted else 0
        pipes = self._pipes
        for level in range(levels + 1):
            bx, by = dims[level]
            cx, cy = dims[level - 1] if level else (0, 0)
            words.append((nx, ny, bx, by, cx, cy, level, slots, int(boundary), base,
                          extent_at, 0))
            pipeline = pipes.boxes_level if level else pipes.boxes_level0
            entries.append((pipeline, len(words) - 1,
                            (_ceil_div(bx, 16), _ceil_div(by, 16), batch), level))
            for target, n in by_source.get(level, []):
                f = base ** source_drop(n, base)
                sx, sy = dims[level]
                mx, my = _ceil_div(sx + f - 1, f), _ceil_div(sy + f - 1, f)
                words.append((nx, ny, mx, my, sx, sy, blocks[target][0], slots, int(boundary),
                              f, 0, n))
                entries.append((pipes.shifted_boxes, len(words) - 1,
                                (_ceil_div(mx, 16), _ceil_div(my, 16), batch * n * n), level + 1))
        table = np.zeros((len(words), stride // 4), dtype=np.uint32)
        for row, values in enumerate(words):
            table[row, : len(values)] = values
        uniform = device.create_buffer_with_data(data=table, usage=wgpu.BufferUsage.UNIFORM)
        thr = device.create_buffer_with_data(data=thresholds.astype(self.dtype), usage=_STORAGE)
        if not self._box_flags:  # kept: allocating 8 bytes per cell every frame is slow
            self._box_flags = [
                device.create_buffer(label="box flags", size=4 * batch * ny * nx, usage=_STORAGE)
                for _ in range(2)
            ]
        flags = self._box_flags
        counts = device.create_buffer(size=4 * batch * slots, usage=_STORAGE | _COPY)
        # group n reads flags[1 - n] and writes flags[n]: level L writes flags[L % 2], and
        # the shifted counts from level L (entry source L + 1) read it
        groups = [
            device.create_bind_group(
                layout=pipes.box_layout,
                entries=[
                    {"binding": 0, "resource": {"buffer": uniform, "offset": 0, "size": 48}},
                    {"binding": 1, "resource": {"buffer": self._fields[self._newest]}},
                    {"binding": 2, "resource": {"buffer": thr}},
                    {"binding": 3, "resource": {"buffer": flags[1 - n]}},
                    {"binding": 4, "resource": {"buffer": flags[n]}},
                    {"binding": 5, "resource": {"buffer": counts}},
                ],
            )
            for n in range(2)
        ]
        encoder = device.create_command_encoder()
        encoder.clear_buffer(counts)
        compute = encoder.begin_compute_pass()
        for pipeline, row, dispatch, group in entries:
            compute.set_pipeline(pipeline)
            compute.set_bind_group(0, groups[group % 2], [row * stride])
            compute.dispatch_workgroups(*dispatch)
        compute.end()
        device.queue.submit([encoder.finish()])
        result = np.frombuffer(device.queue.read_buffer(counts), dtype=np.uint32)
        for buffer in (uniform, thr, counts):
            buffer.destroy()
        return result.reshape(batch, slots), blocks

    def synchronize(self) -> None:
        """Wait until every submitted step has run (for timing)."""
        self.ctx.wait()


def make_field_state(
    shape: tuple[int, int, int], dtype: np.dtype, feedback: int = 0
) -> WgpuFieldState:
    """The backend hook of :func:`resonance_engine.backends.field_state`."""
    return WgpuFieldState(shape, dtype, feedback)


# ---------------------------------------------------------------------- FieldKernels
_scratch: dict[tuple[tuple[int, int, int], str, int], WgpuFieldState] = {}


def leapfrog_steps(
    u: np.ndarray,
    u_prev: np.ndarray,
    coeffs: LeapfrogCoefficients,
    sources: SourceStencil,
    drive: np.ndarray,
    feedback_fn: Callable[[float], float] | None = None,
) -> bool:
    """Host-array form (upload, step on the GPU, download): for tests, not for speed.

    Returns False: the newest field is written back into ``u``.
    """
    shape = (int(u.shape[0]), int(u.shape[1]), int(u.shape[2]))
    key = (shape, u.dtype.name, coeffs.feedback)
    if key not in _scratch:
        _scratch[key] = WgpuFieldState(shape, u.dtype, coeffs.feedback)
    state = _scratch[key]
    state.upload(u, u_prev)
    state.leapfrog_steps(coeffs, sources, drive, feedback_fn)
    u[...] = state.current()
    u_prev[...] = state.previous()
    return False


_triad_pipelines: dict[tuple[int, str], Any] = {}


def triad(a: np.ndarray, b: np.ndarray, c: np.ndarray, scale: float) -> None:
    """a = b + scale * c over flat host arrays, computed on the GPU (upload, run, download)."""
    ctx = gpu_context()
    dtype = a.dtype
    check_support(ctx, dtype, 0)
    device = ctx.device
    key = (id(device), dtype.name)
    if key not in _triad_pipelines:
        _triad_pipelines[key] = device.create_compute_pipeline(
            label="triad",
            layout="auto",
            compute={"module": ctx.shader("triad", dtype), "entry_point": "triad"},
        )
    pipeline = _triad_pipelines[key]
    buffers = [
        device.create_buffer_with_data(data=np.ascontiguousarray(x, dtype=dtype), usage=_STORAGE)
        for x in (b, c)
    ]
    out = device.create_buffer(size=a.nbytes, usage=_STORAGE | _COPY)
    factor = device.create_buffer_with_data(data=np.asarray([scale], dtype=dtype), usage=_STORAGE)
    group = device.create_bind_group(
        layout=pipeline.get_bind_group_layout(0),
        entries=[
            {"binding": n, "resource": {"buffer": buf}}
            for n, buf in enumerate([*buffers, out, factor])
        ],
    )
    encoder = device.create_command_encoder()
    compute = encoder.begin_compute_pass()
    compute.set_pipeline(pipeline)
    compute.set_bind_group(0, group)
    compute.dispatch_workgroups(min(_ceil_div(a.size, _REDUCE_GROUP), _MAX_GROUPS))
    compute.end()
    device.queue.submit([encoder.finish()])
    a[...] = np.frombuffer(device.queue.read_buffer(out), dtype=dtype)
    for buf in (*buffers, out, factor):
        buf.destroy()
