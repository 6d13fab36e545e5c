"""The dashboard's ASGI application (Starlette).

Routes
------
``GET /``
    The page (``static/index.html``).
``GET /static/...``
    Its script and style sheet (public: they hold no data).
``GET /api/state``
    The run's state as JSON.
``WS /ws``
    The live stream: JSON messages and binary field frames (see
    :mod:`resonance_engine.web.protocol`), and the page's control requests.

Every request must name the dashboard by a loopback name, its ``--host`` or an
``--allow-host`` name (:mod:`resonance_engine.web.hosts`; 403 otherwise: DNS rebinding).
With a token, ``/``, ``/api/state`` and ``/ws`` need it, as ``?token=...`` or as the
cookie that opening the page with the right ``?token=`` sets. A WebSocket whose
``Origin`` header names another host than the one it connects to is refused, so that
other web sites open in the same browser cannot drive a local dashboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from resonance_engine.web.hosts import HostCheck
from resonance_engine.web.hub import ClientSlot, FrameHub
from resonance_engine.web.protocol import PROTOCOL_VERSION, dumps
from resonance_engine.web.replay import ReplayRunner
from resonance_engine.web.runner import SimulationRunner, Tick

__all__ = ["create_app", "STATIC_DIR", "TOKEN_COOKIE"]

STATIC_DIR = Path(__file__).parent / "static"
TOKEN_COOKIE = "resonance_token"
#: WebSocket close code for a refused token or origin (policy violation).
CLOSE_POLICY = 1008
_log = logging.getLogger("resonance_engine.web")


def _token_ok(expected: str | None, conn: HTTPConnection) -> bool:
    if expected is None:
        return True
    given = conn.query_params.get("token") or conn.cookies.get(TOKEN_COOKIE)
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _origin_ok(conn: HTTPConnection) -> bool:
    origin = conn.headers.get("origin")
    if origin is None:  # not a browser (scripts, tests)
        return True
    return urlsplit(origin).netloc.lower() == conn.headers.get("host", "").lower()


_REFUSED = (
    "missing or wrong token: open the URL that 'resonance serve' printed (it ends in ?token=...)"
)


class _Dashboard:
    """The state shared by the routes of one app."""

    def __init__(
        self, runner: SimulationRunner | ReplayRunner, token: str | None, title: str
    ) -> None:
        self.runner = runner
        self.token = token
        self.title = title
        self.hub = FrameHub()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.connections = 0

    # ---------------------------------------------------------------- fan-out
    def on_tick(self, tick: Tick) -> None:
        messages = []
        if tick.rows:
            messages.append(dumps({"type": "metrics", "rows": tick.rows}))
        if tick.state is not None:
            messages.append(dumps({"type": "state", "state": tick.state}))
        messages.extend(dumps(event) for event in tick.events)
        self.hub.publish(tick.frame, messages)

    def publish_threadsafe(self, tick: Tick) -> None:
        loop = self.loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed while shutting down
            loop.call_soon_threadsafe(self.on_tick, tick)

    def hello(self) -> dict[str, Any]:
        runner = self.runner
        return {
            "type": "hello",
            "protocol": PROTOCOL_VERSION,
            "mode": getattr(runner, "mode", "live"),
            "title": self.title,
            "series": list(runner.series),
            "groups": [{"title": title, "series": names} for title, names in runner.groups],
            "metrics_source": runner.description,
            "frame": list(runner.frame_shape()),
            "history": runner.history(),
            "alerts": runner.alerts(),
            "state": runner.state(),
        }

    # ---------------------------------------------------------------- requests
    def handle(self, slot: ClientSlot, text: str) -> None:
        """Act on one text message of a client."""
        try:
            message = json.loads(text)
            if not isinstance(message, dict):
                raise ValueError("not an object")
        except ValueError:
            slot.push_message(
                dumps({"type": "error", "id": None, "message": "messages must be JSON objects"})
            )
            return
        kind = message.get("type")
        if kind == "ack":
            n = message.get("n", 1)
            slot.ack(n if isinstance(n, int) and not isinstance(n, bool) else 1)
            return
        request_id = message.get("id")
        if kind in ("pause", "resume"):
            future = self.runner.request(kind)
        elif kind == "set":
            future = self.runner.request(
                "set",
                param=message.get("param"),
                value=message.get("value"),
                source=message.get("source"),
            )
        else:
            slot.push_message(
                dumps(
                    {
                        "type": "error",
                        "id": request_id,
                        "message": f"unknown message type {kind!r}; use ack, pause, resume or set",
                    }
                )
            )
            return
        loop = asyncio.get_running_loop()

        def done(fut: Future[dict[str, Any]]) -> None:
            loop.call_soon_threadsafe(self._reply, slot, request_id, message, fut)

        future.add_done_callback(done)

    def _reply(
        self,
        slot: ClientSlot,
        request_id: Any,
        message: dict[str, Any],
        future: Future[dict[str, Any]],
    ) -> None:
        error = future.exception()
        if error is None:
            state = future.result()
            slot.push_message(
                dumps({"type": "result", "id": request_id, "ok": True, "state": state})
            )
            self.hub.publish(None, [dumps({"type": "state", "state": state})])
        else:
            slot.push_message(
                dumps(
                    {
                        "type": "error",
                        "id": request_id,
                        "param": message.get("param"),
                        "message": str(error),
                    }
                )
            )


async def _send_loop(websocket: WebSocket, slot: ClientSlot) -> None:
    while True:
        await slot.wakeup.wait()
        messages, frame = slot.take()
        for text in messages:
            await websocket.send_text(text)
        if frame is not None:
            await websocket.send_bytes(frame)


def create_app(
    runner: SimulationRunner | ReplayRunner,
    *,
    token: str | None = None,
    title: str = "resonance-engine",
    manage_runner: bool = True,
    allowed_hosts: Iterable[str] = (),
) -> Starlette:
    """The dashboard app for a runner.

    Parameters
    ----------
    runner : SimulationRunner or ReplayRunner
        The simulation to show (or a stored run, read-only).
    token : str, optional
        When set, the page, ``/api/state`` and the WebSocket require it.
    title : str
        Shown in the page header.
    manage_runner : bool
        Start the runner when the app starts and stop it when the app stops.
    allowed_hosts : iterable of str
        Host names the app answers to besides the loopback names (see
        :mod:`resonance_engine.web.hosts`); ``app.state.allowed_hosts`` is the set, which
        :class:`~resonance_engine.web.server.Dashboard` extends with its ``--host``.
    """
    dash = _Dashboard(runner, token, title)
    allowed = {name.lower().rstrip(".") for name in allowed_hosts}
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        dash.loop = asyncio.get_running_loop()
        runner.publish = dash.publish_threadsafe
        runner.watchers = lambda: dash.hub.count
        if manage_runner:
            runner.start()
        try:
            yield
        finally:
            if manage_runner:
                runner.stop()
            runner.publish = lambda tick: None
            dash.loop = None

    async def index(request: Request) -> Response:
        if not _token_ok(token, request):
            return PlainTextResponse(_REFUSED, status_code=401)
        response = HTMLResponse(page, headers={"Cache-Control": "no-store"})
        if token is not None and request.query_params.get("token"):
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response

    async def api_state(request: Request) -> Response:
        if not _token_ok(token, request):
            return PlainTextResponse(_REFUSED, status_code=401)
        return JSONResponse(json.loads(dumps({**runner.state(), "clients": dash.hub.count})))

    async def stream(websocket: WebSocket) -> None:
        if not _token_ok(token, websocket) or not _origin_ok(websocket):
            await websocket.close(code=CLOSE_POLICY)
            return
        await websocket.accept()
        slot = dash.hub.add()
        dash.connections += 1
        slot.push_message(dumps(dash.hello()))
        runner.request_frame()
        sender = asyncio.create_task(_send_loop(websocket, slot))
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message.get("text") is not None:
                    dash.handle(slot, message["text"])
                else:
                    slot.push_message(
                        dumps(
                            {
                                "type": "error",
                                "id": None,
                                "message": "binary messages are not accepted",
                            }
                        )
                    )
        except WebSocketDisconnect:
            pass
        finally:
            dash.hub.remove(slot)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/api/state", api_state),
            WebSocketRoute("/ws", stream),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        lifespan=lifespan,
        middleware=[Middleware(HostCheck, allowed=allowed)],
    )
    app.state.dashboard = dash
    app.state.allowed_hosts = allowed
    return app
