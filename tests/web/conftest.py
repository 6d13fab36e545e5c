"""Fixtures of the dashboard tests: small simulations, servers on 127.0.0.1, chromium."""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Iterator
from types import ModuleType

import pytest

from resonance_engine.config import default_pond


def require(module: str) -> ModuleType:
    """Import an optional test dependency: skip without it, but fail under CI=true."""
    try:
        return importlib.import_module(module)
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"{module} is not installed (pip install -e '.[test]')")


def chromium_path() -> str:
    """Debian's chromium: skip without it, but fail under CI=true (.ci/run installs it)."""
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not on PATH; .ci/run installs it with apt-get")
        pytest.skip("chromium is not on PATH (apt-get install chromium)")
    return path


require("starlette")
require("uvicorn")


@pytest.fixture
def make_runner():
    """Factory of runners on a small default pond (numba backend, fast to step)."""
    from resonance_engine.web import SimulationRunner

    made = []

    def make(size: int = 48, **kwargs):
        kwargs.setdefault("fps", 60.0)
        kwargs.setdefault("metrics_every", 5)
        runner = SimulationRunner(default_pond(size).build(), **kwargs)
        made.append(runner)
        return runner

    yield make
    for runner in made:
        runner.stop()


@pytest.fixture
def served(make_runner) -> Iterator:
    """Factory of dashboards served by uvicorn on 127.0.0.1 (a free port), stopped after."""
    from resonance_engine.web import Dashboard

    started = []

    def serve(token: str | None = None, **kwargs):
        dash = Dashboard(make_runner(**kwargs), token=token)
        dash.start("127.0.0.1", 0)
        started.append(dash)
        return dash

    yield serve
    for dash in started:
        dash.stop()


def local_client(app, base_url: str = "http://localhost"):
    """Starlette's TestClient, naming the app by a host it answers to (the dashboard
    refuses foreign Host headers; TestClient's default host, ``testserver``, is one)."""
    from starlette.testclient import TestClient

    class Client(TestClient):
        def websocket_connect(self, url: str, *args, **kwargs):
            if "://" not in url:
                url = base_url.replace("http", "ws", 1) + url
            return super().websocket_connect(url, *args, **kwargs)

    return Client(app, base_url=base_url)
