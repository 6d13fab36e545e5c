"""``resonance serve --engine browser``: the browser engine's site served from the package.

The same pages as :func:`~resonance_engine.web.site.export_site` writes, served straight
from the package's folders (``web/static``, ``web/engine``, the wgpu backend's
``shaders``). The simulation runs in the browser; the server only stores what the page
sends: ``POST api/metrics`` with ``{"series": ["D", "G", "C", "tau", "CI"], "rows":
[[step, t, D, G, C, tau, CI], ...]}`` goes to a
:class:`~resonance_engine.store.RunRecorder` when one is given.
"""

from __future__ import annotations

import hmac
import math
import threading
from collections.abc import Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from resonance_engine.web.hosts import HostCheck
from resonance_engine.web.site import ENGINE_DIR, SHADER_DIR, STATIC_DIR, page_html

__all__ = ["create_site_app", "STORE_PATH", "SERIES"]

#: Where the page POSTs its metric rows (relative to the page).
STORE_PATH = "api/metrics"
#: The series of a row after step and t, and the recorder's names for them.
SERIES = {"D": "fractal_dim", "G": "gain", "C": "coherence", "tau": "dwell", "CI": "ci"}
_MAX_ROWS = 10_000


def _rows(payload: Any) -> list[dict[str, float]]:
    """The metric rows of a POST body, checked (ValueError says what is wrong)."""
    if not isinstance(payload, dict) or payload.get("series") != list(SERIES):
        raise ValueError(f"the body is {{'series': {list(SERIES)}, 'rows': [...]}}")
    rows = payload.get("rows")
    if not isinstance(rows, list) or len(rows) > _MAX_ROWS:
        raise ValueError(f"'rows' is a list of at most {_MAX_ROWS} rows")
    frames = []
    for row in rows:
        if not isinstance(row, list) or len(row) != 2 + len(SERIES):
            raise ValueError(f"a row is [step, t, {', '.join(SERIES)}], got {row!r}")
        if not all(v is None or (isinstance(v, int | float) and not isinstance(v, bool))
                   for v in row):
            raise ValueError(f"a row holds numbers (or null), got {row!r}")
        step, t = row[0], row[1]
        if not isinstance(step, int) or t is None or not math.isfinite(t):
            raise ValueError(f"a row starts with an integer step and a finite t, got {row!r}")
        frame: dict[str, Any] = {"step": step, "t": float(t)}
        for name, value in zip(SERIES.values(), row[2:], strict=True):
            frame[name] = math.nan if value is None else float(value)
        frames.append(frame)
    return frames


def create_site_app(
    site: dict[str, Any],
    *,
    recorder: Any = None,
    token: str | None = None,
    allowed_hosts: Iterable[str] = (),
) -> Starlette:
    """The ASGI app of the browser site.

    Parameters
    ----------
    site : dict
        The page's ``config.json`` (:func:`~resonance_engine.web.site.site_config`).
    recorder : RunRecorder, optional
        Stores the rows the page POSTs; without one the page is told not to send them.
    token : str, optional
        Required (``?token=``) for the page, its config and the store.
    allowed_hosts : iterable of str
        Host names answered besides the loopback ones (the Host header check of
        :mod:`resonance_engine.web.hosts`, as the dashboard's ``--allow-host``).
    """
    hosts = {name.lower().rstrip(".") for name in allowed_hosts}
    lock = threading.Lock()
    stored = {"frames": 0}
    settings = dict(site, store=None if recorder is None else STORE_PATH)
    if token and recorder is not None:
        settings["store"] = f"{STORE_PATH}?token={token}"

    def token_ok(request: Request) -> bool:
        return token is None or hmac.compare_digest(
            request.query_params.get("token", ""), token
        )

    async def index(request: Request) -> Response:
        if not token_ok(request):
            return PlainTextResponse("wrong token: add ?token=... to the URL", status_code=401)
        return HTMLResponse(page_html())

    async def config(request: Request) -> Response:
        if not token_ok(request):
            return PlainTextResponse("wrong token", status_code=401)
        return JSONResponse(settings)

    async def store(request: Request) -> Response:
        if not token_ok(request):
            return PlainTextResponse("wrong token", status_code=401)
        if recorder is None:
            return JSONResponse({"error": "this server stores nothing (--no-db)"}, 404)
        try:
            frames = _rows(await request.json())
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        with lock:
            for frame in frames:
                recorder.record(frame)
            stored["frames"] += len(frames)
        return JSONResponse({"stored": len(frames)})

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/index.html", index),
            Route("/config.json", config),
            Route(f"/{STORE_PATH}", store, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
            Mount("/engine", StaticFiles(directory=ENGINE_DIR), name="engine"),
            Mount("/shaders", StaticFiles(directory=SHADER_DIR), name="shaders"),
        ],
        middleware=[Middleware(HostCheck, allowed=hosts)],
    )
    app.state.stored = stored
    app.state.allowed_hosts = hosts
    return app
