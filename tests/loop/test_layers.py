"""Imports point down the layer order (DESIGN.md): the loop and the store stay low."""

from __future__ import annotations

import ast
from pathlib import Path

import resonance_engine

PACKAGE = Path(resonance_engine.__file__).parent


def _imports(folder: str) -> dict[str, set[str]]:
    """Module file -> every resonance_engine module it imports (at any depth)."""
    found: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / folder).glob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[path.name] = {n for n in names if n.split(".")[0] == "resonance_engine"}
    return found


def test_the_store_never_imports_the_package_root() -> None:
    for module, names in _imports("store").items():
        assert "resonance_engine" not in names, f"store/{module} imports the package root"


def test_the_loop_imports_nothing_but_errors_and_itself() -> None:
    allowed = {"resonance_engine.errors"}
    for module, names in _imports("loop").items():
        other = {n for n in names if not n.startswith("resonance_engine.loop")} - allowed
        assert not other, f"loop/{module} imports {other}"
