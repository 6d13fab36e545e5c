"""`import resonance_engine` (and the CLI's entry module) pulls no heavy optional dependency.

cvxpy, torch, gymnasium, dask, playwright and wgpu cost from a fraction of a second to
several seconds each; they are imported where they are used (the first MPC problem, the
first RL environment, ...), never with the package. Each check runs in a fresh interpreter,
since this test process has most of them imported already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from resonance_engine._lazy import lazy_module

HEAVY = ("cvxpy", "torch", "gymnasium", "dask", "distributed", "playwright", "wgpu")


def _imported_after(statement: str) -> dict[str, bool]:
    code = (
        f"import sys; {statement}; import json; "
        f"print(json.dumps({{m: m in sys.modules for m in {list(HEAVY)!r}}}))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("statement", ["import resonance_engine",
                                       "import resonance_engine.cli.main",
                                       "import resonance_engine.control"])
def test_no_heavy_dependency_is_imported_with_the_package(statement: str) -> None:
    imported = _imported_after(statement)
    assert not any(imported.values()), {m: v for m, v in imported.items() if v}


def test_cvxpy_arrives_with_the_first_mpc_problem() -> None:
    imported = _imported_after(
        "from resonance_engine.control import LinearMPC; "
        "LinearMPC([[1.0]], [[1.0]], [[1.0]], [[1.0]], horizon=2, u_min=-1, u_max=1)"
    )
    assert imported["cvxpy"]


def test_lazy_module_forwards_attributes_and_imports_once() -> None:
    m = lazy_module("math")
    assert "not imported" in repr(m)
    assert m.sqrt(9.0) == 3.0
    assert "imported" in repr(m) and "not" not in repr(m)
    with pytest.raises(ImportError):
        getattr(lazy_module("no_such_module_resonance"), "anything")  # noqa: B009
