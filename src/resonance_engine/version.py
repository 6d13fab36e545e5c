"""The installed package version (without importing the package root)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["package_version"]


def package_version() -> str:
    """Version of the installed ``resonance-engine`` distribution ("0+unknown" from a
    source tree that is not installed)."""
    try:
        return version("resonance-engine")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"
