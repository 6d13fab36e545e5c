"""The command-line interface (``resonance``)."""
