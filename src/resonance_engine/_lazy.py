"""Optional heavy dependencies, imported on first use rather than at package import.

``import resonance_engine`` must stay quick (a CLI call, a Dask worker, a test collecting
the package): cvxpy alone costs most of a second. A module that needs such a dependency
binds ``cp = lazy_module("cvxpy")`` and uses ``cp.Variable`` etc. as usual; the real
import happens at the first attribute access.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["lazy_module"]


class _LazyModule:
    """Stands in for a module until one of its attributes is read."""

    __slots__ = ("_name", "_module")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)

    def __repr__(self) -> str:
        state = "imported" if self._module is not None else "not imported yet"
        return f"<lazy module {self._name!r} ({state})>"


def lazy_module(name: str) -> Any:
    """A stand-in for module ``name`` that imports it on the first attribute access.

    Parameters
    ----------
    name : str
        Absolute module name, e.g. ``"cvxpy"``.

    Returns
    -------
    object
        Attribute reads are forwarded to the module (imported then, once).

    Examples
    --------
    >>> m = lazy_module("math")
    >>> m.sqrt(4.0)
    2.0
    """
    return _LazyModule(name)
