"""Fixtures of the store tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from resonance_engine.store import AgentDB


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "agent.db"


@pytest.fixture
def db(db_path: Path) -> Iterator[AgentDB]:
    database = AgentDB(db_path)
    yield database
    database.close()


def require(module: str):  # type: ignore[no-untyped-def]
    """Import an optional dependency: skip without it, but fail under CI=true."""
    if os.environ.get("CI") == "true":
        return __import__(module)
    return pytest.importorskip(module)


@pytest.fixture
def pandas():  # type: ignore[no-untyped-def]
    return require("pandas")


@pytest.fixture
def pyarrow():  # type: ignore[no-untyped-def]
    return require("pyarrow")
