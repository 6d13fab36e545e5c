"""Refusing sizes that cannot fit in memory, before anything is allocated.

A 100000 x 100000 grid would need 80 GB for the two float32 fields alone; allocating it
fails with a bare MemoryError (or the kernel's OOM killer) after the run was set up.
:func:`check_fits` compares an estimate with the memory the operating system says is
available and raises :class:`~resonance_engine.errors.ConfigError` with both numbers.
"""

from __future__ import annotations

import os

from resonance_engine.errors import ConfigError

__all__ = ["available_memory", "format_bytes", "check_fits"]


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (Linux ``MemAvailable``; else the
    physical memory), or None when the system does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def format_bytes(n: float) -> str:
    """``n`` bytes as a short text with a binary unit ("80.0 GiB")."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    raise AssertionError("unreachable")


def check_fits(nbytes: int, what: str, fix: str) -> None:
    """Raise ConfigError when ``nbytes`` exceeds the available memory.

    Parameters
    ----------
    nbytes : int
        Estimated bytes the allocation needs.
    what : str
        What would be allocated ("a 100000x100000 float32 field (2 buffers)").
    fix : str
        What to do instead ("use a smaller --size").
    """
    available = available_memory()
    if available is not None and nbytes > available:
        raise ConfigError(
            f"{what} needs about {format_bytes(nbytes)} of memory, more than the "
            f"{format_bytes(available)} available; {fix}"
        )
