"""The one JSON helper: NaN and infinities become null, so that the output is strict JSON.

>>> from resonance_engine.json_safe import dumps, json_safe
>>> json_safe({"ci": float("nan"), "d": [1.5, float("inf")], "n": 3})
{'ci': None, 'd': [1.5, None], 'n': 3}
>>> dumps({"ci": float("nan")})
'{"ci": null}'
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

__all__ = ["json_safe", "dumps"]


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None and numpy scalars made
    Python numbers, in nested dicts, lists and tuples (tuples become lists)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """Strict JSON text of ``value`` (NaN as null; unknown objects as ``str``)."""
    kwargs.setdefault("default", str)
    return json.dumps(json_safe(value), allow_nan=False, **kwargs)
