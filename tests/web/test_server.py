"""The real server (uvicorn on 127.0.0.1): several clients, slow ones, abrupt closes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from resonance_engine.errors import ConfigError
from resonance_engine.web import decode_frame, is_loopback
from resonance_engine.web.server import bind_socket

from .conftest import require

ws_client = require("websockets.sync.client")
InvalidStatus = require("websockets.exceptions").InvalidStatus


@pytest.fixture
def connect():
    """Opens client connections, all closed after the test (close_timeout short: a test
    client that stopped reading cannot see the server's close frame behind its full
    receive queue)."""
    with contextlib.ExitStack() as stack:
        yield lambda url: stack.enter_context(ws_client.connect(url, close_timeout=0.5))


def ws_url(dash: Any) -> str:
    return dash.url(with_token=False).replace("http://", "ws://") + "ws"


def read_frames(ws: Any, n: int, timeout: float = 30.0) -> list[bytes]:
    frames: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(frames) < n:
        message = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
        if isinstance(message, bytes):
            frames.append(message)
            ws.send(json.dumps({"type": "ack"}))
    return frames


def server_tasks(dash: Any) -> int:
    """Number of asyncio tasks alive on the server's event loop."""

    async def count() -> int:
        return len(asyncio.all_tasks())

    loop = dash.app.state.dashboard.loop
    return asyncio.run_coroutine_threadsafe(count(), loop).result(timeout=10)


def wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert not is_loopback("example.org")


def test_busy_port_is_a_config_error() -> None:
    taken = bind_socket("127.0.0.1", 0)
    try:
        with pytest.raises(ConfigError, match="cannot listen"):
            bind_socket("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()


def test_serves_page_and_stops_cleanly(served) -> None:
    dash = served()
    assert dash.url().startswith("http://127.0.0.1:")
    with urllib.request.urlopen(dash.url(), timeout=10) as response:
        assert response.status == 200 and b'id="field"' in response.read()
    dash.stop()
    assert not dash.runner.is_running()
    assert not any(t.name in ("resonance-sim", "resonance-web") for t in threading.enumerate())
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", dash.port), timeout=2):
        pass


def test_clients_come_and_go_without_disturbing_others(served, connect) -> None:
    dash = served()
    hub = dash.app.state.dashboard.hub
    tasks_before = server_tasks(dash)
    steady = connect(ws_url(dash))
    others = [connect(ws_url(dash)) for _ in range(3)]
    try:
        for ws in [steady, *others]:
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"
            read_frames(ws, 2)
        wait_for(lambda: hub.count == 4)
        others[0].close()  # a clean close
        others[1].socket.shutdown(socket.SHUT_RDWR)  # a browser tab killed
        others[1].socket.close()
        wait_for(lambda: hub.count == 2)
        steps = [decode_frame(f)[0].step for f in read_frames(steady, 5)]
        assert steps == sorted(steps) and steps[-1] > steps[0]
        read_frames(others[2], 2)
    finally:
        for ws in [steady, *others]:
            ws.close()
    wait_for(lambda: hub.count == 0)
    wait_for(lambda: server_tasks(dash) == tasks_before)  # no sender task left behind


def test_a_stalled_client_neither_slows_the_run_nor_the_others(served, connect) -> None:
    dash = served()
    hub = dash.app.state.dashboard.hub
    stalled = connect(ws_url(dash))  # never reads, never acks
    watcher = connect(ws_url(dash))
    try:
        json.loads(watcher.recv(timeout=10))
        wait_for(lambda: hub.count == 2)
        start = dash.runner.solver.step_count
        frames = read_frames(watcher, 20)
        assert dash.runner.solver.step_count > start
        assert decode_frame(frames[-1])[0].step > decode_frame(frames[0])[0].step
        slot = max(hub.clients, key=lambda s: s.frames_dropped)  # the stalled one
        # it got its two credits' worth of frames, holds at most one pending frame and
        # dropped the rest: every frame offered to it is accounted for exactly once
        assert slot.frames_sent == slot.max_credits == 2 and slot.credits == 0
        assert slot.frames_dropped >= 10
        pending = 0 if slot.frame is None else 1
        assert slot.frames_offered == slot.frames_sent + slot.frames_dropped + pending
    finally:
        stalled.close()
        watcher.close()


def test_wrong_token_is_refused_over_the_network(served, connect) -> None:
    dash = served(token="tok-123")
    base = dash.url(with_token=False)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(base + "?token=nope", timeout=10)
    assert info.value.code == 401
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(dash) + "?token=nope")
    assert refused.value.response.status_code == 403
    ws = connect(ws_url(dash) + "?token=tok-123")
    assert json.loads(ws.recv(timeout=10))["type"] == "hello"


def test_dns_rebinding_host_is_refused_over_the_network(served) -> None:
    """A page on a foreign name that resolves to 127.0.0.1 reaches the socket; the server
    must refuse it by its Host header (403), HTTP and WebSocket alike."""
    dash = served()
    base = dash.url(with_token=False)
    request = urllib.request.Request(base + "api/state", headers={"Host": "rebind.example"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 403 and b"--allow-host rebind.example" in info.value.read()
    with pytest.raises(InvalidStatus) as refused:
        # the URL names the foreign host; the socket goes to 127.0.0.1 (what DNS said)
        sock = socket.create_connection(("127.0.0.1", dash.port), timeout=10)
        ws_client.connect(f"ws://rebind.example:{dash.port}/ws", sock=sock)
    assert refused.value.response.status_code == 403
    assert dash.app.state.dashboard.hub.count == 0
    with urllib.request.urlopen(base.replace("127.0.0.1", "localhost") + "api/state", timeout=10):
        pass  # loopback names are served
