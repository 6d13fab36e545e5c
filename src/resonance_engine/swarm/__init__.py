"""Swarms of wave-field agents that coordinate by exchanging 64-byte complexity signatures."""

from resonance_engine.swarm.signature import SIGNATURE_SIZE, Signature

__all__ = ["Signature", "SIGNATURE_SIZE"]
