"""The GPU the wgpu backend runs on: adapter choice, device, shader modules.

One :class:`GpuContext` per process, made on first use by :func:`gpu_context`. The
adapter is the one wgpu calls "high-performance" unless ``RESONANCE_WGPU_ADAPTER`` names
another: a case-insensitive substring of the adapter's device, vendor or backend name
(for example ``NVIDIA``, ``llvmpipe`` or ``Vulkan``). A machine without a usable adapter
gets a :class:`~resonance_engine.errors.BackendError` that lists the adapters wgpu found.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import wgpu

from resonance_engine.errors import BackendError

__all__ = ["GpuContext", "gpu_context", "adapter_summaries", "ADAPTER_ENV"]

#: Environment variable that picks an adapter by a substring of its description.
ADAPTER_ENV = "RESONANCE_WGPU_ADAPTER"

_HOW_TO_FIX = (
    "install a GPU driver with Vulkan, Metal or DX12 support (a software adapter on Debian: "
    "apt-get install mesa-vulkan-drivers libvulkan1), or use backend='numba'"
)


def _describe(adapter: Any) -> str:
    info = adapter.info
    kind = f"{info.get('backend_type', '?')}, {info.get('adapter_type', '?')}"
    return f"{info.get('device') or '?'} ({kind})"


def adapter_summaries() -> list[str]:
    """One line per adapter wgpu can see: device (backend, type)."""
    try:
        return [_describe(a) for a in wgpu.gpu.enumerate_adapters_sync()]
    except Exception as exc:  # noqa: BLE001 - any driver failure means "none usable"
        return [f"<enumeration failed: {exc}>"]


def _matches(adapter: Any, wanted: str) -> bool:
    info = adapter.info
    text = " ".join(str(info.get(key, "")) for key in ("device", "vendor", "backend_type"))
    return wanted.lower() in text.lower()


def _choose_adapter() -> Any:
    wanted = os.environ.get(ADAPTER_ENV, "").strip()
    try:
        if wanted:
            candidates = [a for a in wgpu.gpu.enumerate_adapters_sync() if _matches(a, wanted)]
            adapter = candidates[0] if candidates else None
        else:
            adapter = wgpu.gpu.request_adapter_sync(power_preference="high-performance")
    except Exception as exc:  # noqa: BLE001
        adapter, wanted = None, f"{wanted} ({exc})" if wanted else str(exc)
    if adapter is None:
        found = adapter_summaries()
        listing = "; ".join(found) if found else "none"
        what = f"no GPU adapter matches {ADAPTER_ENV}={wanted!r}" if wanted else "no GPU adapter"
        raise BackendError(f"backend 'wgpu': {what}; adapters found: {listing}; {_HOW_TO_FIX}")
    return adapter


@dataclass
class GpuContext:
    """A wgpu device and what the backend needs to know about it.

    Attributes
    ----------
    adapter, device : wgpu objects
    description : str
        The adapter, as "device (backend, type)".
    has_f64 : bool
        Whether shaders may use 64-bit floats (the "shader-f64" feature).
    storage_align : int
        Alignment of dynamic storage-buffer offsets (bytes).
    max_binding : int
        Largest storage-buffer binding (bytes): bounds the grid size.
    """

    adapter: Any
    device: Any
    description: str
    has_f64: bool
    storage_align: int
    max_binding: int
    _modules: dict[tuple[str, str], Any] = field(default_factory=dict)
    _fence: Any = None

    def shader(self, name: str, dtype: np.dtype | None = None) -> Any:
        """The compiled shader module ``shaders/<name>.wgsl`` for fields of ``dtype``.

        Shaders that compute with the type ``real`` get the prelude of their float type
        (``prelude_f32.wgsl`` or ``prelude_f64.wgsl``) prepended; ``dtype=None`` loads the
        file as it is.
        """
        tag = "" if dtype is None else np.dtype(dtype).name
        key = (name, tag)
        if key not in self._modules:
            code = _read_shader(name)
            if dtype is not None:
                code = _read_shader(f"prelude_{'f64' if tag == 'float64' else 'f32'}") + code
            self._modules[key] = self.device.create_shader_module(label=name, code=code)
        return self._modules[key]

    def wait(self) -> None:
        """Block until the GPU has finished everything submitted so far.

        Reads back 4 bytes: the copy runs after all earlier submissions (queue order),
        and mapping its result waits for it. (``on_submitted_work_done_sync`` is broken
        in wgpu 0.32.)
        """
        if self._fence is None:
            self._fence = self.device.create_buffer(
                label="fence", size=4, usage=wgpu.BufferUsage.COPY_SRC
            )
        self.device.queue.read_buffer(self._fence)


def _read_shader(name: str) -> str:
    path = resources.files("resonance_engine.backends.wgpu_gpu") / "shaders" / f"{name}.wgsl"
    return path.read_text(encoding="utf-8")


_lock = threading.Lock()
_context: GpuContext | None = None


def gpu_context() -> GpuContext:
    """The process's GPU context (made on first call; BackendError without an adapter)."""
    global _context
    with _lock:
        if _context is None:
            adapter = _choose_adapter()
            features = ["shader-f64"] if "shader-f64" in adapter.features else []
            limits = adapter.limits
            wanted = {
                key: limits[key]
                for key in ("max-storage-buffer-binding-size", "max-buffer-size")
                if key in limits
            }
            try:
                device = adapter.request_device_sync(
                    label="resonance-engine", required_features=features, required_limits=wanted
                )
            except Exception as exc:  # noqa: BLE001
                raise BackendError(
                    f"backend 'wgpu': the adapter {_describe(adapter)} refused to open a device "
                    f"({exc}); adapters found: {'; '.join(adapter_summaries())}; {_HOW_TO_FIX}"
                ) from exc
            _context = GpuContext(
                adapter=adapter,
                device=device,
                description=_describe(adapter),
                has_f64=bool(features),
                storage_align=int(device.limits["min-storage-buffer-offset-alignment"]),
                max_binding=int(device.limits["max-storage-buffer-binding-size"]),
            )
        return _context
