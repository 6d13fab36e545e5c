"""The Host header check that keeps DNS-rebinding pages away from a local dashboard.

A web page on ``evil.example`` can make the browser resolve ``evil.example`` to
127.0.0.1 (DNS rebinding) and then talk to a dashboard on this machine as if it were
its own origin: the Origin and Host headers agree, only the *name* is foreign. So every
HTTP request and WebSocket handshake must name the dashboard by a name it answers to:

- a loopback name: ``localhost`` (and ``*.localhost``), ``127.x.x.x``, ``::1``;
- the address the server was started on (``--host``);
- any name passed with ``--allow-host`` (``*`` turns the check off).

Anything else is answered 403 (400 when the Host header is missing or malformed), before
the token is even looked at.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.responses import PlainTextResponse

__all__ = ["is_loopback", "host_name", "host_allowed", "HostCheck"]

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Any]


def is_loopback(host: str) -> bool:
    """True when ``host`` (a name or address, no port) only reaches this machine."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str | None:
    """The host part of a Host header (``name``, ``name:port``, ``[v6]:port``), lower
    case, without port, brackets or a trailing dot; None when malformed."""
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        rest = header[end + 1 :]
        if end < 0 or (rest and not rest.startswith(":")):
            return None
        name, port = header[1:end], rest[1:]
    else:
        name, _, port = header.partition(":")
    if not name or (port and not port.isdigit()) or any(c in name for c in " /\\@"):
        return None
    return name.rstrip(".")


def host_allowed(name: str, allowed: set[str]) -> bool:
    """True when a request naming ``name`` (see :func:`host_name`) may be served."""
    return is_loopback(name) or name in allowed or "*" in allowed


class HostCheck:
    """ASGI middleware refusing requests and WebSocket handshakes whose Host header is
    not allowed (see the module docstring).

    Parameters
    ----------
    app : ASGI application
        What allowed requests reach.
    allowed : set of str
        Host names allowed besides the loopback names, lower case; the server adds the
        address it listens on. The set is read at every request, so it may grow later.
    """

    def __init__(self, app: ASGIApp, allowed: set[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope.get("headers", ()) if k == b"host"), None)
        name = host_name(header.decode("latin-1")) if header is not None else None
        if name is None:
            response = PlainTextResponse("missing or malformed Host header", status_code=400)
        elif not host_allowed(name, self.allowed):
            response = PlainTextResponse(
                f"host {name!r} is not allowed: open the dashboard as localhost or 127.0.0.1, "
                f"or start it with --allow-host {name}",
                status_code=403,
            )
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)
