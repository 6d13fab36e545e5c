"""Ctrl-C between steps, not in the middle of a tracker.

Python raises KeyboardInterrupt at whatever bytecode the main thread is running when
SIGINT arrives. Inside a tracker that can split one frame in two: the frame is counted
but not stored, or stored in part. The run loop runs inside :func:`shielded` and calls
:func:`raise_if_pending` after each chunk of steps, before the trackers; a command that
wants clean interrupts installs :func:`interrupt_between_steps` as its SIGINT/SIGTERM
handler (the CLI does; the library itself installs no handler). The handler raises
KeyboardInterrupt at once outside a shielded block; inside one it is raised at the next
:func:`raise_if_pending` or at the end of the block. A second signal while one is
pending raises at once (a tracker that hangs can still be stopped).

Example
-------
>>> import signal
>>> from resonance_engine.loop.interrupts import interrupt_between_steps, shielded
>>> previous = signal.signal(signal.SIGINT, interrupt_between_steps)
>>> handled = []
>>> try:
...     with shielded():
...         signal.raise_signal(signal.SIGINT)   # arrives in the middle of a frame
...         handled.append("the whole frame")
... except KeyboardInterrupt:
...     handled.append("interrupted after it")
>>> handled
['the whole frame', 'interrupted after it']
>>> _ = signal.signal(signal.SIGINT, previous)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["shielded", "interrupt_between_steps", "raise_if_pending", "discard_pending"]

_depth = 0
_pending = False


@contextmanager
def shielded() -> Iterator[None]:
    """A block that an :func:`interrupt_between_steps` signal does not split.

    A signal that arrives inside raises KeyboardInterrupt when the outermost shielded
    block ends (unless the block is already ending with another exception).
    """
    global _depth, _pending
    _depth += 1
    try:
        yield
    except BaseException:
        _depth -= 1
        if _depth == 0:
            _pending = False  # the block fails anyway: the run ends with that error
        raise
    _depth -= 1
    if _depth == 0 and _pending:
        _pending = False
        raise KeyboardInterrupt


def raise_if_pending() -> None:
    """Raise the KeyboardInterrupt of a signal that arrived in a shielded block, now."""
    global _pending
    if _pending:
        _pending = False
        raise KeyboardInterrupt


def discard_pending() -> bool:
    """Forget a signal that arrived in a shielded block; True if there was one."""
    global _pending
    was, _pending = _pending, False
    return was


def interrupt_between_steps(signum: int, frame: object) -> None:
    """A signal handler: KeyboardInterrupt now, or at the end of the shielded block.

    Install it with ``signal.signal(signal.SIGINT, interrupt_between_steps)`` in the
    main thread (signal handlers run there only).
    """
    global _pending
    if _depth == 0 or _pending:
        _pending = False
        raise KeyboardInterrupt
    _pending = True
