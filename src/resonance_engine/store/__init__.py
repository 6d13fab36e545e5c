"""AgentDB: metric history in SQLite with sqlite-vec fingerprint search.

- :class:`AgentDB` opens a database and answers queries (series, time ranges, latest
  values, downsampled aggregates, the hybrid time-window + vector query).
- :class:`MetricWriter` writes values and fingerprints at high rates from many threads.
- :func:`fingerprint` turns a field (and its complexity metrics) into a 128-d vector.
- :class:`RunRecorder` stores one simulation run (five series and fingerprints);
  :class:`RecordTracker` is the run loop's tracker that feeds it.
- Learning-MPC safe sets (``add_trajectory``, ``trajectories``) and optimisations
  (``create_optimization``, ``add_evaluations``, ``evaluations``) live in the same file.
"""

from resonance_engine.store.db import SERIES_TYPES, AgentDB, now_us
from resonance_engine.store.fingerprint import FINGERPRINT_LAYOUT, fingerprint
from resonance_engine.store.metric_writer import MetricWriter
from resonance_engine.store.optimizations import (
    EvaluationRecord,
    OptimizationInfo,
)
from resonance_engine.store.recorder import RunRecorder
from resonance_engine.store.records import (
    Aggregate,
    Alert,
    MetricRecord,
    Point,
    RecordList,
    RunInfo,
    SeriesInfo,
    SeriesStats,
    SimilarHit,
    VectorRecord,
)
from resonance_engine.store.schema import SCHEMA_VERSION, VECTOR_DIM
from resonance_engine.store.tracker import RecordTracker
from resonance_engine.store.trajectories import StoredTrajectory

__all__ = [
    "AgentDB",
    "MetricWriter",
    "RunRecorder",
    "RecordTracker",
    "MetricRecord",
    "VectorRecord",
    "RunInfo",
    "SeriesInfo",
    "SeriesStats",
    "Point",
    "Aggregate",
    "SimilarHit",
    "Alert",
    "RecordList",
    "fingerprint",
    "FINGERPRINT_LAYOUT",
    "SERIES_TYPES",
    "SCHEMA_VERSION",
    "VECTOR_DIM",
    "now_us",
    "StoredTrajectory",
    "EvaluationRecord",
    "OptimizationInfo",
]
