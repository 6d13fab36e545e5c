"""The WebSocket protocol and HTTP routes, through Starlette's TestClient."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from .conftest import local_client, require

require("httpx2")
from starlette.websockets import WebSocketDisconnect  # noqa: E402

from resonance_engine.web import create_app, decode_frame  # noqa: E402

#: The dashboard answers loopback names only (Host header check).
BASE = "http://localhost"


def receive_until(
    ws: Any,
    match: Callable[[dict[str, Any]], bool],
    limit: int = 2000,
    frames: list[bytes] | None = None,
) -> dict[str, Any]:
    """Read messages (acking frames) until a JSON message matches; return it."""
    for _ in range(limit):
        message = ws.receive()
        if message.get("bytes") is not None:
            if frames is not None:
                frames.append(message["bytes"])
            ws.send_json({"type": "ack"})
            continue
        data = json.loads(message["text"])
        if match(data):
            return data
    raise AssertionError("no matching message")


def frames_received(ws: Any, n: int) -> list[bytes]:
    frames: list[bytes] = []
    while len(frames) < n:
        message = ws.receive()
        if message.get("bytes") is not None:
            frames.append(message["bytes"])
            ws.send_json({"type": "ack"})
    return frames


@pytest.fixture
def client(make_runner):
    app = create_app(make_runner())
    with local_client(app) as c:
        yield c


def test_page_and_static_files(client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and '<canvas id="field"' in page.text
    for name, kind in [("app.js", "javascript"), ("style.css", "css")]:
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
    state = client.get("/api/state").json()
    assert state["grid"] == [48, 48] and state["clients"] == 0


def test_hello_then_frames_and_metrics(client) -> None:
    with client.websocket_connect("/ws") as ws:
        hello = ws.receive_json()
        assert hello["type"] == "hello" and hello["protocol"] == 1 and hello["mode"] == "live"
        assert hello["series"] == ["rms", "peak"] and hello["frame"] == [48, 48]
        assert hello["state"]["limits"]["wave_speed"]["max"] > hello["state"]["wave_speed"]
        frames = frames_received(ws, 3)
        headers = [decode_frame(f)[0] for f in frames]
        assert all((h.width, h.height) == (48, 48) for h in headers)
        assert headers[-1].step > headers[0].step
        rows = receive_until(ws, lambda m: m["type"] == "metrics")["rows"]
        assert all(len(row) == 4 and row[0] % 5 == 0 for row in rows)


def test_frames_wait_for_acks_while_metrics_flow(client) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.receive_json()
        frames, metrics = 0, 0
        while metrics < 20:  # never ack: at most the credit window (2) arrives
            message = ws.receive()
            if message.get("bytes") is not None:
                frames += 1
            elif '"metrics"' in message["text"]:
                metrics += 1
        assert frames == 2
        ws.send_json({"type": "ack", "n": 2})
        frames_received(ws, 2)
        slot = next(iter(client.app.state.dashboard.hub.clients))
        assert slot.frames_dropped > 0


def test_controls_reply_and_broadcast(client) -> None:
    with client.websocket_connect("/ws") as ws, client.websocket_connect("/ws") as other:
        ws.receive_json()
        other.receive_json()
        ws.send_json({"type": "set", "id": 1, "param": "damping", "value": 0.25})
        result = receive_until(ws, lambda m: m.get("id") == 1)
        assert result["type"] == "result" and result["ok"] and result["state"]["damping"] == 0.25
        receive_until(other, lambda m: m["type"] == "state" and m["state"]["damping"] == 0.25)
        ws.send_json({"type": "set", "id": 2, "param": "frequency", "value": 8, "source": 2})
        result = receive_until(ws, lambda m: m.get("id") == 2)
        assert result["state"]["frequencies"][2] == 8


@pytest.mark.parametrize(
    ("param", "value", "text"),
    [
        ("damping", -1.0, "negative"),
        ("wave_speed", 10.0, "largest stable wave speed"),
        ("wave_speed", -2.0, "must be > 0"),
        ("frequency", 1e6, "not resolved"),
        ("damping", "fast", "must be a number"),
        ("gravity", 1.0, "unknown parameter"),
        # a 400-digit JSON integer does not fit in a float (it raised OverflowError in the
        # simulation thread, which died)
        ("damping", 10**400, "finite"),
        ("wave_speed", -(10**400), "finite"),
        ("frequency", 10**400, "finite"),
    ],
)
def test_refused_changes_say_why_and_the_run_goes_on(client, param, value, text) -> None:
    with client.websocket_connect("/ws") as ws:
        before = ws.receive_json()["state"]
        ws.send_json({"type": "set", "id": 9, "param": param, "value": value})
        error = receive_until(ws, lambda m: m.get("id") == 9)
        assert error["type"] == "error" and text in error["message"]
        step = client.get("/api/state").json()["step"]
        receive_until(ws, lambda m: m["type"] == "metrics" and m["rows"][-1][0] > step)
        after = client.get("/api/state").json()
        for key in ("damping", "wave_speed", "frequencies"):
            assert after[key] == before[key]


def test_pause_and_resume(client) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.receive_json()
        ws.send_json({"type": "pause", "id": 1})
        paused = receive_until(ws, lambda m: m.get("id") == 1)["state"]
        assert paused["paused"] is True
        # the next periodic states still show the same step
        for _ in range(2):
            state = receive_until(ws, lambda m: m["type"] == "state")["state"]
            assert state["step"] == paused["step"]
        ws.send_json({"type": "resume", "id": 2})
        assert receive_until(ws, lambda m: m.get("id") == 2)["state"]["paused"] is False
        receive_until(ws, lambda m: m["type"] == "state" and m["state"]["step"] > paused["step"])


def test_malformed_messages_get_an_error(client) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.receive_json()
        ws.send_text("not json")
        assert "JSON objects" in receive_until(ws, lambda m: m["type"] == "error")["message"]
        ws.send_json({"type": "explode", "id": 4})
        assert "unknown message type" in receive_until(ws, lambda m: m.get("id") == 4)["message"]
        ws.send_bytes(b"\x00")
        assert "binary" in receive_until(ws, lambda m: m["type"] == "error")["message"]


def test_token_is_required_when_set(make_runner) -> None:
    app = create_app(make_runner(), token="s3cret")
    with local_client(app) as client:
        assert client.get("/").status_code == 401
        assert client.get("/?token=wrong").status_code == 401
        assert client.get("/api/state").status_code == 401
        for url in ("/ws", "/ws?token=wrong", "/ws?token="):
            with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect(url):
                pass
            assert info.value.code == 1008
        assert client.app.state.dashboard.hub.count == 0
        with client.websocket_connect("/ws?token=s3cret") as ws:
            assert ws.receive_json()["type"] == "hello"
        page = client.get("/?token=s3cret")
        assert page.status_code == 200
        assert "httponly" in page.headers["set-cookie"].lower()
        # the cookie set by the page lets the same browser in without ?token=
        assert client.get("/api/state").status_code == 200
        with client.websocket_connect("/ws") as ws:
            assert ws.receive_json()["type"] == "hello"


def test_cross_site_websockets_are_refused(client) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as info,
        client.websocket_connect("/ws", headers={"origin": "http://evil.example"}),
    ):
        pass
    assert info.value.code == 1008
    with client.websocket_connect("/ws", headers={"origin": BASE}) as ws:
        assert ws.receive_json()["type"] == "hello"


def test_several_clients_and_closing_one_leaks_nothing(make_runner) -> None:
    app = create_app(make_runner())
    hub = app.state.dashboard.hub
    with local_client(app) as client:
        with client.websocket_connect("/ws") as a, client.websocket_connect("/ws") as b:
            with client.websocket_connect("/ws") as c:
                for ws in (a, b, c):
                    ws.receive_json()
                    frames_received(ws, 2)
                assert hub.count == 3
            receive_until(a, lambda m: m["type"] == "state")  # let the server see c leave
            frames_received(a, 3)
            frames_received(b, 3)
            assert hub.count == 2
        assert hub.count == 0
    assert not any(t.name == "resonance-sim" for t in threading.enumerate())


def test_huge_integers_leave_the_thread_alive_and_answering(client) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.receive_json()
        for i, param in enumerate(("damping", "wave_speed", "frequency")):
            ws.send_text(f'{{"type": "set", "id": {i}, "param": "{param}", "value": {"9" * 400}}}')
            assert receive_until(ws, lambda m, i=i: m.get("id") == i)["type"] == "error"
        ws.send_json({"type": "set", "id": 7, "param": "damping", "value": 0.2})
        assert receive_until(ws, lambda m: m.get("id") == 7)["ok"] is True
        ws.send_json({"type": "set", "id": 8, "param": "frequency", "value": 2, "source": 10**400})
        assert "source must be an index" in receive_until(ws, lambda m: m.get("id") == 8)["message"]
        state = client.get("/api/state").json()
        assert state["running"] is True and state["error"] is None and state["damping"] == 0.2


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("evil.example", 403),  # a DNS-rebinding page: its name resolves to 127.0.0.1
        ("evil.example:8765", 403),
        ("127.0.0.1.evil.example", 403),
        ("", 400),
        ("[::1", 400),
        ("localhost:1:2", 400),
    ],
)
def test_foreign_host_headers_are_refused(make_runner, host, status) -> None:
    app = create_app(make_runner())
    with local_client(app) as client:
        for path in ("/", "/api/state", "/static/app.js"):
            assert client.get(path, headers={"host": host}).status_code == status
        with (
            pytest.raises(WebSocketDisconnect),
            client.websocket_connect("/ws", headers={"host": host}),
        ):
            pass
        assert client.app.state.dashboard.hub.count == 0


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST.", "app.localhost", "127.0.0.1:80", "127.8.0.1", "[::1]:8765"]
)
def test_loopback_host_headers_are_served(client, host) -> None:
    assert client.get("/api/state", headers={"host": host}).status_code == 200


def test_allowed_hosts_are_served(make_runner) -> None:
    app = create_app(make_runner(), allowed_hosts=["Pond.Lan"])
    with local_client(app, "http://pond.lan") as client:
        assert client.get("/").status_code == 200
        assert client.get("/", headers={"host": "other.lan"}).status_code == 403
        with client.websocket_connect("/ws") as ws:
            assert ws.receive_json()["type"] == "hello"
    app = create_app(make_runner(), allowed_hosts=["*"])
    with local_client(app, "http://anything.example") as client:
        assert client.get("/api/state").status_code == 200
