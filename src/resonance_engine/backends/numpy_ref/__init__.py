"""The numpy reference backend: plain array expressions, obviously correct, slow."""

from resonance_engine.backends.numpy_ref import field as field_kernels

__all__ = ["field_kernels"]
