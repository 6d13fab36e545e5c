"""Swarms of wave-field agents that coordinate by exchanging 64-byte complexity signatures.

See :mod:`resonance_engine.swarm.batched` for the agents, :mod:`.coupling` for the
coupling mechanisms,
:mod:`resonance_engine.swarm.coordinator` for what is measured, and
:mod:`resonance_engine.swarm.bus` / :mod:`resonance_engine.swarm.nats_bus` for transport.
"""

from resonance_engine.control.thresholds import AdaptiveThresholdController
from resonance_engine.swarm.agent import CouplingRule, SwarmAgent, SwarmAggregate
from resonance_engine.swarm.batched import Swarm, SwarmConfig, SwarmSnapshot, SwarmView, TickInfo
from resonance_engine.swarm.bus import Bus, BusStats, InProcessBus, open_bus
from resonance_engine.swarm.controllers import (
    CONTROLLERS,
    AdaptiveController,
    LMPCController,
    MPCController,
)
from resonance_engine.swarm.coordinator import SwarmCoordinator, SwarmRecorder, TickResult
from resonance_engine.swarm.coupling import (
    COUPLING_MODES,
    CIFeedbackCoupling,
    CommonDriveCoupling,
    Coupling,
    DiffusiveCoupling,
    GainCoupling,
    KuramotoCoupling,
    make_coupling,
    register_coupling,
)
from resonance_engine.swarm.health import Alert, HealthMonitor, HealthThresholds
from resonance_engine.swarm.measure import AnalyzerMeasure, Measure, MeasureFactory
from resonance_engine.swarm.signature import SIGNATURE_SIZE, Signature
from resonance_engine.swarm.sync import (
    MDEAConfig,
    MDEASync,
    RunningCorrelation,
    mdea_delta,
    mdea_synchronization,
)

__all__ = [
    "CONTROLLERS",
    "AdaptiveController",
    "MPCController",
    "LMPCController",
    "Signature",
    "SIGNATURE_SIZE",
    "Bus",
    "BusStats",
    "InProcessBus",
    "open_bus",
    "CouplingRule",
    "Coupling",
    "GainCoupling",
    "KuramotoCoupling",
    "CIFeedbackCoupling",
    "CommonDriveCoupling",
    "DiffusiveCoupling",
    "COUPLING_MODES",
    "make_coupling",
    "register_coupling",
    "SwarmAgent",
    "SwarmAggregate",
    "Swarm",
    "SwarmConfig",
    "SwarmSnapshot",
    "SwarmView",
    "TickInfo",
    "SwarmCoordinator",
    "SwarmRecorder",
    "TickResult",
    "Alert",
    "HealthMonitor",
    "HealthThresholds",
    "AdaptiveThresholdController",
    "RunningCorrelation",
    "MDEAConfig",
    "MDEASync",
    "mdea_delta",
    "mdea_synchronization",
    "AnalyzerMeasure",
    "Measure",
    "MeasureFactory",
]
