"""Per-client slots: a slow client drops frames for itself only."""

from __future__ import annotations

from resonance_engine.web.hub import ClientSlot, FrameHub


def test_unsent_frames_are_replaced_by_newer_ones() -> None:
    slot = ClientSlot(credits=1)
    for i in range(5):
        slot.offer_frame(bytes([i]))
    messages, frame = slot.take()
    assert frame == bytes([4]) and messages == []
    assert (slot.frames_offered, slot.frames_sent, slot.frames_dropped) == (5, 1, 4)


def test_credits_hold_frames_back_until_acked() -> None:
    slot = ClientSlot(credits=2)
    slot.offer_frame(b"a")
    assert slot.take()[1] == b"a"
    slot.offer_frame(b"b")
    assert slot.take()[1] == b"b"
    slot.offer_frame(b"c")
    assert not slot.wakeup.is_set()
    assert slot.take()[1] is None  # no credit left: the frame waits in the slot
    slot.ack()
    assert slot.wakeup.is_set()
    assert slot.take()[1] == b"c"
    slot.ack(10)
    assert slot.credits == 2  # never above the window


def test_messages_keep_order_and_are_bounded() -> None:
    slot = ClientSlot(max_messages=3)
    for i in range(5):
        slot.push_message(str(i))
    messages, frame = slot.take()
    assert messages == ["2", "3", "4"] and frame is None
    assert slot.messages_dropped == 2


def test_hub_fans_out_to_every_client_independently() -> None:
    hub = FrameHub()
    fast, slow = hub.add(), hub.add(credits=1)
    assert hub.count == 2
    hub.publish(b"1", ["m1"])
    assert fast.take() == (["m1"], b"1")
    assert slow.take() == (["m1"], b"1")
    hub.publish(b"2", [])
    hub.publish(b"3", ["m2"])
    assert fast.take() == (["m2"], b"3")
    assert slow.take() == (["m2"], None)  # the slow one has not acked yet
    hub.remove(slow)
    hub.remove(slow)  # twice is harmless
    assert hub.count == 1
