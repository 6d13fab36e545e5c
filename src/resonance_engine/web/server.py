"""Serving the dashboard with uvicorn, in the foreground or in a background thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any

import uvicorn

from resonance_engine.errors import ConfigError
from resonance_engine.web.app import create_app
from resonance_engine.web.hosts import is_loopback
from resonance_engine.web.replay import ReplayRunner
from resonance_engine.web.runner import SimulationRunner

__all__ = ["Dashboard", "is_loopback", "bind_socket"]


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0 picks a free one).

    Raises
    ------
    ConfigError
        When the address cannot be bound (in use, not an address of this machine).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot resolve host {host!r}: {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port "
            "(0 picks a free one) or --host"
        ) from None
    sock.set_inheritable(True)
    return sock


class Dashboard:
    """A simulation runner and its web page, served by uvicorn.

    Parameters
    ----------
    runner : SimulationRunner or None
        The simulation; started and stopped with the server (None with ``app``).
    app : ASGI app, optional
        Served instead of the dashboard's own (e.g. :func:`create_site_app`).
    token : str, optional
        Require this token for the page and the WebSocket.
    title : str
        Shown in the page header.
    allowed_hosts : iterable of str
        Host names the page may be opened by besides the loopback names and the address
        it listens on (``--allow-host``; ``"*"`` allows any).

    Examples
    --------
    >>> from resonance_engine import default_pond
    >>> from resonance_engine.web import Dashboard, SimulationRunner
    >>> dash = Dashboard(SimulationRunner(default_pond(128).build()))
    >>> url = dash.start(port=0)          # background thread  # doctest: +SKIP
    >>> dash.stop()                                            # doctest: +SKIP
    """

    def __init__(
        self,
        runner: SimulationRunner | ReplayRunner | None,
        *,
        token: str | None = None,
        title: str = "resonance-engine",
        allowed_hosts: Iterable[str] = (),
        app: Any = None,
    ) -> None:
        self.runner = runner
        self.token = token
        # app: another ASGI app to serve instead (the browser engine's site, no runner)
        if app is None:
            if runner is None:
                raise ConfigError("a Dashboard serves a runner or an app; pass one of them")
            app = create_app(runner, token=token, title=title, allowed_hosts=allowed_hosts)
        self.app = app
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.host = "127.0.0.1"
        self.port = 0

    def url(self, with_token: bool = True) -> str:
        """The page's address (with ``?token=`` when a token is set)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = f"?token={self.token}" if with_token and self.token else ""
        return f"http://{host}:{self.port}/{query}"

    def _make_server(self, host: str, port: int) -> tuple[uvicorn.Server, socket.socket]:
        sock = bind_socket(host, port)
        self.host = host
        self.app.state.allowed_hosts.add(host.lower().strip("[]").rstrip("."))
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            ws_per_message_deflate=False,
            ws_max_size=1 << 16,
            timeout_graceful_shutdown=3,
            lifespan="on",
        )
        return uvicorn.Server(config), sock

    def serve(self, host: str = "127.0.0.1", port: int = 8765, *, on_ready: Any = None) -> None:
        """Serve in the foreground until interrupted (Ctrl-C or SIGTERM); then return.

        ``on_ready(dashboard)`` is called once the socket listens (e.g. to print the URL).
        """
        server, sock = self._make_server(host, port)
        if on_ready is not None:
            on_ready(self)
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled gracefully
            pass
        finally:
            sock.close()

    def start(self, host: str = "127.0.0.1", port: int = 0, timeout: float = 30.0) -> str:
        """Serve from a background thread; return the URL once it answers."""
        if self._thread is not None:
            raise ConfigError("this dashboard is already serving; call stop() first")
        server, sock = self._make_server(host, port)
        self._server = server

        def run() -> None:
            try:
                asyncio.run(server.serve(sockets=[sock]))
            finally:
                sock.close()

        self._thread = threading.Thread(target=run, name="resonance-web", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not server.started:
            self.stop()
            raise ConfigError(f"the dashboard server did not start on {host}:{self.port}")
        return self.url()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop a server started with :meth:`start` (and its simulation)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None
        self._server = None

    def __enter__(self) -> Dashboard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
