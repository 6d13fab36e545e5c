"""The live dashboard: a browser view of the field, its metrics and a swarm.

Start it from the command line with ``resonance serve``, or from Python::

    from resonance_engine import default_pond
    from resonance_engine.web import Dashboard, SimulationRunner

    dash = Dashboard(SimulationRunner(default_pond(256).build()))
    print(dash.start())      # serves from a background thread; prints the URL
    ...
    dash.stop()

Needs the ``web`` extra (``pip install 'resonance-engine[web]'``: starlette, uvicorn,
websockets).
"""

from __future__ import annotations

from resonance_engine.web.app import create_app
from resonance_engine.web.chart_feeds import (
    ChartFeed,
    ComplexityFeed,
    FieldStatsFeed,
    default_chart_feed,
)
from resonance_engine.web.controls import (
    control_limits,
    max_damping,
    max_frequency,
    max_wave_speed,
    set_damping,
    set_frequency,
    set_wave_speed,
)
from resonance_engine.web.hub import ClientSlot, FrameHub
from resonance_engine.web.protocol import (
    PROTOCOL_VERSION,
    FrameEncoder,
    FrameHeader,
    decode_frame,
    downsample,
)
from resonance_engine.web.replay import ReplayRunner
from resonance_engine.web.runner import SimulationRunner, Tick
from resonance_engine.web.server import Dashboard, is_loopback
from resonance_engine.web.swarm_driver import SwarmDriver

__all__ = [
    "Dashboard",
    "SimulationRunner",
    "ReplayRunner",
    "SwarmDriver",
    "Tick",
    "create_app",
    "is_loopback",
    "ChartFeed",
    "FieldStatsFeed",
    "ComplexityFeed",
    "default_chart_feed",
    "FrameEncoder",
    "FrameHeader",
    "decode_frame",
    "downsample",
    "PROTOCOL_VERSION",
    "FrameHub",
    "ClientSlot",
    "control_limits",
    "max_damping",
    "max_frequency",
    "max_wave_speed",
    "set_damping",
    "set_frequency",
    "set_wave_speed",
]
