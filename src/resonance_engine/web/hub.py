"""Fan-out of frames and messages to the connected browsers, one slot per client.

All methods run on the server's event loop. Each client has a *latest-frame slot*:
publishing a frame overwrites whatever the client has not sent yet, so a slow browser
only drops frames for itself and the simulation never waits for anyone. JSON messages
(state, metric rows, control replies) queue in order; the queue is bounded and drops its
oldest entries when a client stops reading altogether.

Flow control: a client holds ``credits`` frames it may have in flight. Sending a frame
spends one; the page returns one with an ``{"type": "ack"}`` message after drawing it.
The browser's WebSocket reads eagerly into memory, so without this a page whose drawing
falls behind would pile frames up; with it, it always draws the newest.
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["ClientSlot", "FrameHub"]


class ClientSlot:
    """What one connected client is waiting for.

    Parameters
    ----------
    credits : int
        Frames the client may have unacknowledged (>= 1).
    max_messages : int
        Bound of the JSON message queue.
    """

    def __init__(self, credits: int = 2, max_messages: int = 256) -> None:
        self.frame: bytes | None = None
        self.messages: deque[str] = deque(maxlen=max_messages)
        self.credits = credits
        self.max_credits = credits
        self.wakeup = asyncio.Event()
        self.frames_offered = 0
        self.frames_sent = 0
        self.frames_dropped = 0
        self.messages_dropped = 0

    def offer_frame(self, frame: bytes) -> None:
        """Put ``frame`` in the slot, replacing (dropping) an unsent one."""
        if self.frame is not None:
            self.frames_dropped += 1
        self.frame = frame
        self.frames_offered += 1
        if self.credits > 0:
            self.wakeup.set()

    def push_message(self, text: str) -> None:
        """Queue a JSON message (the oldest is dropped when the queue is full)."""
        if len(self.messages) == self.messages.maxlen:
            self.messages_dropped += 1
        self.messages.append(text)
        self.wakeup.set()

    def ack(self, n: int = 1) -> None:
        """The client drew (or skipped) ``n`` frames: it may receive ``n`` more."""
        self.credits = min(self.credits + max(0, n), self.max_credits)
        if self.frame is not None:
            self.wakeup.set()

    def take(self) -> tuple[list[str], bytes | None]:
        """Messages to send now and the frame to send (None when none or no credit)."""
        self.wakeup.clear()
        messages = list(self.messages)
        self.messages.clear()
        frame = None
        if self.frame is not None and self.credits > 0:
            frame, self.frame = self.frame, None
            self.credits -= 1
            self.frames_sent += 1
        return messages, frame


class FrameHub:
    """The set of connected clients and the fan-out to them."""

    def __init__(self) -> None:
        self.clients: set[ClientSlot] = set()

    @property
    def count(self) -> int:
        """Number of connected clients (safe to read from any thread)."""
        return len(self.clients)

    def add(self, credits: int = 2) -> ClientSlot:
        slot = ClientSlot(credits)
        self.clients.add(slot)
        return slot

    def remove(self, slot: ClientSlot) -> None:
        self.clients.discard(slot)

    def publish(self, frame: bytes | None, messages: list[str]) -> None:
        """Offer ``frame`` (if any) and queue ``messages`` to every client."""
        for slot in self.clients:
            for text in messages:
                slot.push_message(text)
            if frame is not None:
                slot.offer_frame(frame)
