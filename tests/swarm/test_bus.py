"""InProcessBus and NatsBus: delivery, byte accounting, reconnects and lost signatures."""

from __future__ import annotations

import threading
import time

import pytest

from resonance_engine.errors import BusError
from resonance_engine.swarm.bus import Bus, InProcessBus, open_bus
from resonance_engine.swarm.nats_server import NatsServer
from resonance_engine.swarm.signature import Signature


def _sig(agent: int, step: int) -> Signature:
    return Signature(agent, step, 1.5, 0.5, 2.0, 0.1 * step, 0.01 * agent, timestamp_us=step)


def _wait(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_in_process_bus_delivers_decoded_signatures_and_counts_bytes() -> None:
    bus = InProcessBus()
    assert isinstance(bus, Bus)
    first: list[Signature] = []
    second: list[Signature] = []
    bus.subscribe(first.append)
    bus.subscribe(second.append)
    sent = [_sig(a, s) for s in range(3) for a in range(4)]
    for sig in sent:
        bus.publish(sig)
    assert first == sent and second == sent
    assert bus.stats.bytes_out["signature"] == 64 * len(sent)
    assert bus.stats.bytes_in["signature"] == 64 * len(sent)
    states: list[bytes] = []
    bus.subscribe_payload("state", states.append)
    bus.publish_payload("state", b"\x01" * 1000)
    assert states == [b"\x01" * 1000] and bus.stats.bytes_in["state"] == 1000
    bus.close()
    with pytest.raises(BusError, match="closed"):
        bus.publish(sent[0])


def test_subscriber_errors_and_corrupt_messages_are_counted_not_raised() -> None:
    bus = InProcessBus()

    def broken(sig: Signature) -> None:
        raise RuntimeError("subscriber bug")

    good: list[Signature] = []
    bus.subscribe(broken)
    bus.subscribe(good.append)
    bus.publish(_sig(0, 0))
    data = bytearray(_sig(0, 1).encode())
    data[30] ^= 0xFF
    bus.publish_payload("signature", bytes(data) + _sig(0, 2).encode())
    bus.publish_payload("signature", b"short")
    assert [s.step for s in good] == [0, 2]
    assert bus.stats.callback_errors == 2
    assert bus.stats.corrupt == 2


def test_open_bus_rejects_unknown_specs() -> None:
    assert isinstance(open_bus("memory"), InProcessBus)
    with pytest.raises(BusError, match="unknown bus"):
        open_bus("carrier-pigeon://x")
    with pytest.raises(BusError, match="channel"):
        InProcessBus().publish_payload("video", b"")


def test_nats_bus_delivers_between_connections(nats_server: NatsServer) -> None:
    from resonance_engine.swarm.nats_bus import NatsBus

    with NatsBus(nats_server.url) as sender, NatsBus(nats_server.url) as receiver:
        got: list[Signature] = []
        lock = threading.Lock()

        def keep(sig: Signature) -> None:
            with lock:
                got.append(sig)

        receiver.subscribe(keep)
        sent = [_sig(a, s) for s in range(50) for a in range(3)]
        for sig in sent:
            sender.publish(sig)
        sender.publish_payload("state", bytes(4096))
        sender.flush()
        assert _wait(lambda: len(got) == len(sent) and receiver.stats.bytes_in["state"] == 4096)
        assert sorted(got, key=lambda s: (s.step, s.agent)) == sent
        assert sender.stats.bytes_out["signature"] == 64 * len(sent)
        assert receiver.stats.bytes_in["signature"] == 64 * len(sent)
        assert sender.stats.lost == 0


def test_nats_bus_reconnects_and_counts_lost_signatures(
    nats_server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    from resonance_engine.swarm.nats_bus import NatsBus

    caplog.set_level("WARNING", logger="resonance_engine.swarm.bus")
    with (
        NatsBus(nats_server.url, reconnect_wait=0.05) as sender,
        NatsBus(nats_server.url, reconnect_wait=0.05) as receiver,
    ):
        got: list[int] = []
        receiver.subscribe(lambda s: got.append(s.step))
        for step in range(5):
            sender.publish(_sig(0, step))
        sender.flush()
        assert _wait(lambda: len(got) == 5)

        nats_server.stop()
        assert _wait(lambda: not sender.connected)
        for step in range(5, 12):
            sender.publish(_sig(0, step))
        assert sender.stats.lost == 7

        nats_server.start()
        assert _wait(lambda: sender.connected and receiver.connected)
        assert _wait(lambda: sender.stats.reconnects == 1)

        # the receiver's subscription is restored by the reconnect
        def delivered_after_restart() -> bool:
            sender.publish(_sig(0, 100 + len(got)))
            sender.flush()
            return any(step >= 100 for step in got)

        assert _wait(delivered_after_restart)
        assert not any(5 <= step < 12 for step in got)
        assert sender.stats.disconnects == 1

        def messages() -> str:
            return " ".join(r.getMessage() for r in caplog.records)

        # the bus logs from its own thread, possibly just after updating its counters
        assert _wait(lambda: "7 signatures were lost" in messages()), messages()
    assert "lost its connection" in messages() and "reconnected" in messages()


def test_nats_bus_unreachable_server_is_a_clear_error(nats_client: None) -> None:
    from resonance_engine.swarm.nats_bus import NatsBus
    from resonance_engine.swarm.nats_server import free_port

    with pytest.raises(BusError, match="cannot connect"):
        NatsBus(f"nats://127.0.0.1:{free_port()}", connect_timeout=0.5)


def test_nats_bus_queue_is_bounded_and_bytes_count_when_sent(
    nats_server: NatsServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outgoing queue grew without bound, bytes were counted when queued (also for
    messages never sent), lost state payloads were not counted, losses were logged at
    DEBUG, and flush() busy-polled with time.sleep."""
    from resonance_engine.swarm import nats_bus
    from resonance_engine.swarm.nats_bus import NatsBus

    caplog.set_level("WARNING", logger="resonance_engine.swarm.bus")
    with NatsBus(nats_server.url, max_queue=5) as sender, NatsBus(nats_server.url) as receiver:
        got: list[int] = []
        receiver.subscribe(lambda s: got.append(s.step))
        frozen = threading.Event()
        sender._loop.call_soon_threadsafe(frozen.wait)  # the network side stalls
        for step in range(20):
            sender.publish(_sig(0, step))
        assert sender.stats.lost == 15 and sender.stats.queue_full == 15
        assert sender.stats.bytes_out["signature"] == 0  # nothing was written yet

        def no_polling(seconds: float) -> None:
            raise AssertionError("flush() polls with time.sleep")

        monkeypatch.setattr(nats_bus.time, "sleep", no_polling)
        with pytest.raises(BusError, match="could not write its queue"):
            sender.flush(timeout=0.3)
        monkeypatch.undo()
        frozen.set()
        sender.flush()
        assert sender.stats.bytes_out["signature"] == 5 * 64
        assert sender.stats.messages_out["signature"] == 5
        assert _wait(lambda: len(got) == 5) and got == [0, 1, 2, 3, 4]
        assert "lost 1 message(s): the outgoing queue is full (5 messages)" in caplog.text
        assert "lost 14 more message(s)" in caplog.text  # reported by flush()

        nats_server.stop()
        assert _wait(lambda: not sender.connected)
        sender.publish_payload("state", b"state of agent 0")
        assert sender.stats.lost_state == 1
        assert sender.stats.bytes_out["state"] == 0
