"""The wgpu GPU backend: WGSL compute shaders on Vulkan, Metal, DX12 or OpenGL.

Fields stay in GPU memory between steps (:class:`WgpuFieldState`); only scalars and
explicit read-backs come to the host. ``backend="auto"`` never picks this backend: ask for
``backend="wgpu"``. Needs the ``wgpu`` package (``pip install 'resonance-engine[gpu]'``)
and a GPU adapter; ``RESONANCE_WGPU_ADAPTER`` picks one by name.
"""

from resonance_engine.backends.wgpu_gpu import field as field_kernels
from resonance_engine.backends.wgpu_gpu.device import GpuContext, adapter_summaries, gpu_context
from resonance_engine.backends.wgpu_gpu.field import WgpuFieldState, make_field_state

__all__ = [
    "field_kernels",
    "make_field_state",
    "WgpuFieldState",
    "GpuContext",
    "gpu_context",
    "adapter_summaries",
]
