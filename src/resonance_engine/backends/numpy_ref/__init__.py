"""The numpy reference backend: plain array expressions, obviously correct, slow."""

from resonance_engine.backends.numpy_ref import correlation as correlation_kernels
from resonance_engine.backends.numpy_ref import field as field_kernels
from resonance_engine.backends.numpy_ref import metrics as metric_kernels
from resonance_engine.backends.numpy_ref import oscillators as oscillator_kernels

__all__ = ["correlation_kernels", "field_kernels", "metric_kernels", "oscillator_kernels"]
