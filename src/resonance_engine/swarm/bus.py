"""The signature bus: how agents hand their signatures to each other and to the coordinator.

A bus carries two channels:

``"signature"``
    64-byte :class:`~resonance_engine.swarm.signature.Signature` records, what the swarm
    exchanges to coordinate (a message holds one or more whole records).
``"state"``
    raw byte payloads (e.g. a whole float32 field), used only to *measure* what a swarm
    that synchronized full states would have to send, on the same bus.

Every bus counts what it carries in :class:`BusStats` (messages and bytes out and in per
channel, signatures lost, reconnects), so traffic is measured rather than computed on
paper.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from resonance_engine.errors import BusError, SignatureError
from resonance_engine.swarm.signature import Signature

__all__ = [
    "Bus",
    "BusStats",
    "InProcessBus",
    "SignatureCallback",
    "PayloadCallback",
    "CHANNELS",
    "open_bus",
]

log = logging.getLogger("resonance_engine.swarm.bus")

#: The channels a bus carries.
CHANNELS = ("signature", "state")

SignatureCallback = Callable[[Signature], None]
PayloadCallback = Callable[[bytes], None]


@dataclass
class BusStats:
    """What a bus carried, counted at this endpoint.

    Attributes
    ----------
    messages_out, bytes_out : dict
        Messages and payload bytes sent, per channel (a transport with an outgoing queue
        counts them when it writes them, not when they are queued).
    messages_in, bytes_in : dict
        Messages and payload bytes delivered to this endpoint's subscribers, per channel
        (each message counted once however many callbacks it reached). A transport may
        pack several signatures into one message: count signatures as
        ``bytes_in["signature"] // 64``.
    lost : int
        Signatures published while the transport was down, that it refused, or that did
        not fit in its outgoing queue; they were not sent, and are counted here instead of
        being silently ignored.
    lost_state : int
        State payloads not sent, for the same reasons.
    queue_full : int
        Messages (of either channel) refused because the outgoing queue was full; they
        are in ``lost`` / ``lost_state`` too.
    dropped_slow : int
        Messages the transport dropped because this endpoint read too slowly.
    corrupt : int
        Received signature messages that failed to decode (bad length/magic/CRC).
    callback_errors : int
        Exceptions raised by subscriber callbacks (logged, not propagated).
    disconnects, reconnects : int
        Transport connection losses and recoveries.
    """

    messages_out: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANNELS, 0))
    bytes_out: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANNELS, 0))
    messages_in: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANNELS, 0))
    bytes_in: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANNELS, 0))
    lost: int = 0
    lost_state: int = 0
    queue_full: int = 0
    dropped_slow: int = 0
    corrupt: int = 0
    callback_errors: int = 0
    disconnects: int = 0
    reconnects: int = 0

    def as_dict(self) -> dict[str, Any]:
        """A plain-dict copy (for JSON summaries)."""
        return asdict(self)


@runtime_checkable
class Bus(Protocol):
    """What agents and coordinators need from a transport.

    Callbacks may run on a transport thread (``NatsBus``) or synchronously inside
    ``publish`` (``InProcessBus``); they must be quick and thread-safe.
    """

    stats: BusStats

    def publish(self, signature: Signature) -> None:
        """Send one signature to every subscriber (never blocks on the network)."""

    def subscribe(self, callback: SignatureCallback) -> None:
        """Call ``callback(signature)`` for every signature published on the bus."""

    def publish_payload(self, channel: str, payload: bytes) -> None:
        """Send raw bytes on ``channel`` (``"state"``; used to measure state traffic)."""

    def subscribe_payload(self, channel: str, callback: PayloadCallback) -> None:
        """Call ``callback(payload)`` for every payload on ``channel``."""

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything published so far has been delivered (or sent)."""

    def close(self) -> None:
        """Release the transport; further publishes raise BusError."""


def _check_channel(channel: str) -> None:
    if channel not in CHANNELS:
        raise BusError(f"unknown bus channel {channel!r}; use one of {', '.join(CHANNELS)}")


class _Dispatch:
    """Subscriber lists and the receive-side accounting shared by the buses."""

    def __init__(self) -> None:
        self.stats = BusStats()
        self._signature_callbacks: list[SignatureCallback] = []
        self._payload_callbacks: dict[str, list[PayloadCallback]] = {c: [] for c in CHANNELS}
        self._lock = threading.Lock()

    def _deliver(self, channel: str, data: bytes) -> None:
        with self._lock:
            self.stats.messages_in[channel] += 1
            self.stats.bytes_in[channel] += len(data)
        if channel == "signature":
            if not self._signature_callbacks:
                return
            try:
                signatures, errors = Signature.decode_many(data)
            except SignatureError as exc:
                signatures, errors = [], [exc]
            if errors:
                with self._lock:
                    self.stats.corrupt += len(errors)
                log.warning("dropped %d corrupt signature(s): %s", len(errors), errors[0])
            callbacks = self._signature_callbacks
            for sig in signatures:
                for callback in callbacks:
                    try:
                        callback(sig)
                    except Exception:  # a subscriber's bug must not kill the transport
                        with self._lock:
                            self.stats.callback_errors += 1
                        log.exception("bus subscriber %r raised", callback)
        else:
            for pcallback in list(self._payload_callbacks[channel]):
                self._call(pcallback, data)

    def _call(self, callback: Callable[[Any], None], arg: Any) -> None:
        try:
            callback(arg)
        except Exception:  # a subscriber's bug must not kill the transport
            with self._lock:
                self.stats.callback_errors += 1
            log.exception("bus subscriber %r raised", callback)

    def subscribe(self, callback: SignatureCallback) -> None:
        self._signature_callbacks.append(callback)

    def subscribe_payload(self, channel: str, callback: PayloadCallback) -> None:
        _check_channel(channel)
        self._payload_callbacks[channel].append(callback)


class InProcessBus(_Dispatch):
    """A bus inside one process: ``publish`` encodes the signature to its 64 bytes and
    hands them to every subscriber synchronously (decoded again on the way in), so what
    is counted is exactly what a network bus would carry.

    Examples
    --------
    >>> bus = InProcessBus()
    >>> seen = []
    >>> bus.subscribe(seen.append)
    >>> bus.publish(Signature(0, 1, 1.5, 0.5, 1.0, 0.2, 0.3, timestamp_us=0))
    >>> seen[0].step, bus.stats.bytes_out["signature"]
    (1, 64)
    """

    def __init__(self) -> None:
        super().__init__()
        self._closed = False

    def publish(self, signature: Signature) -> None:
        self.publish_payload("signature", signature.encode())

    def publish_payload(self, channel: str, payload: bytes) -> None:
        _check_channel(channel)
        if self._closed:
            raise BusError("publish on a closed InProcessBus; create a new bus")
        self.stats.messages_out[channel] += 1
        self.stats.bytes_out[channel] += len(payload)
        self._deliver(channel, bytes(payload))

    def flush(self, timeout: float = 5.0) -> None:
        """Nothing to wait for: delivery is synchronous."""

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> InProcessBus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_bus(spec: str | None, subject: str = "resonance.signatures") -> Bus:
    """A bus from a command-line style spec.

    Parameters
    ----------
    spec : str or None
        ``None``, ``"memory"`` or ``"inprocess"`` for :class:`InProcessBus`;
        ``"nats://host:port"`` for :class:`~resonance_engine.swarm.nats_bus.NatsBus`.
    subject : str
        NATS subject of the signature channel.
    """
    if spec is None or spec in ("memory", "inprocess"):
        return InProcessBus()
    if spec.startswith(("nats://", "tls://")):
        from resonance_engine.swarm.nats_bus import NatsBus

        return NatsBus(spec, subject=subject)
    raise BusError(f"unknown bus {spec!r}; use 'memory' or a NATS URL such as nats://127.0.0.1:4222")
