"""The one run loop: step a field (or a swarm) in compiled chunks, call trackers around it.

Every command steps through :class:`RunLoop` (``resonance run``, ``serve``, ``sweep``,
``swarm``): what it does besides stepping is a tracker with ``start(run)``,
``handle(state, t)`` and ``finish(run, status)`` called at its ``interval`` (see
:mod:`resonance_engine.loop.tracker`). Trackers of the layers above live with them:
measuring (:class:`resonance_engine.metrics.MeasureTracker`), storing
(:class:`resonance_engine.store.RecordTracker`), live frames (web), signatures (swarm),
progress bars (cli).

The loop sits just above ``field`` in the layer order: it imports nothing but
:mod:`resonance_engine.errors`.
"""

from resonance_engine.loop.controller import Run, RunLoop, Stepper
from resonance_engine.loop.tracker import (
    EVERY_FRAME,
    STATUSES,
    Realtime,
    Tracker,
    TrackerProtocol,
    as_interval,
)
from resonance_engine.loop.trackers import Callback, StopWhen

__all__ = [
    "RunLoop",
    "Run",
    "Stepper",
    "Tracker",
    "TrackerProtocol",
    "Realtime",
    "EVERY_FRAME",
    "STATUSES",
    "as_interval",
    "Callback",
    "StopWhen",
]
