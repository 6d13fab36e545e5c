"""RunRecorder: a simulated run stored as five series plus fingerprints per bucket."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pytest

from resonance_engine import default_pond
from resonance_engine.errors import StoreError
from resonance_engine.store import SERIES_TYPES, AgentDB, MetricWriter, RunRecorder


@dataclass(frozen=True)
class Metrics:
    fractal_dim: float
    fractal_r2: float
    gain: float
    coherence: float
    dwell: float
    ci: float
    step: int
    t: float


def test_records_a_simulated_run(db: AgentDB) -> None:
    config = default_pond(32, seed=1).model_copy(update={"backend": "numpy"})
    solver = config.build()
    frames = []
    with RunRecorder.start(db, config, seed=1, bucket_us=50_000) as rec:
        for _ in range(40):
            solver.step(5)
            u = np.array(solver.u)
            amp = float(np.abs(u).mean())
            m = Metrics(
                fractal_dim=math.nan if solver.step_count == 5 else 1.5,
                fractal_r2=0.99,
                gain=amp,
                coherence=0.5,
                dwell=2.0,
                ci=amp * 0.1,
                step=solver.step_count,
                t=solver.t,
            )
            frames.append(m)
            rec.record(m, u)
    run = db.run(rec.run_id)
    assert run.status == "finished" and run.config["nx"] == 32 and run.seed == 1
    assert set(rec.series) == set(SERIES_TYPES)
    stamps, values = db.range_arrays(rec.series["gain"])
    assert stamps.tolist() == [rec.timestamp(m.t) for m in frames]
    np.testing.assert_allclose(values, [m.gain for m in frames])
    assert db.count(rec.series["fractal_dim"]) == len(frames) - 1 and rec.skipped == 1
    assert json.loads(db.latest(rec.series["ci"]).metadata) == {"step": frames[-1].step}
    buckets = {(rec.timestamp(m.t) - run.started_at) // 50_000 for m in frames}
    got, vectors = db.vectors(rec.series["ci"])
    assert len(got) == len(buckets) == rec.fingerprints
    assert ((got - run.started_at) % 50_000 == 0).all()
    # the stored fingerprint of the last bucket finds itself first
    hit = db.similar(vectors[-1], k=1, run_id=rec.run_id)[0]
    assert hit.timestamp_bucket == got[-1] and hit.distance == pytest.approx(0, abs=1e-6)


def test_interrupted_and_shared_writer(db: AgentDB) -> None:
    writer = MetricWriter(db)
    with pytest.raises(KeyboardInterrupt):
        with RunRecorder.start(db, {}, seed=0, writer=writer, agent_id="a1") as rec:
            rec.record(
                {"fractal_dim": 1.2, "gain": 1, "coherence": 1, "dwell": 1, "ci": 1, "t": 0.0}
            )
            raise KeyboardInterrupt
    assert db.run(rec.run_id).status == "interrupted"
    assert db.count(rec.series["ci"]) == 1  # flushed by close even with a shared writer
    assert db.series(run_id=rec.run_id)[0].agent_id == "a1"
    writer.close()
    with MetricWriter(db) as other, pytest.raises(StoreError, match="simulated time"):
        RunRecorder(db, rec.run_id, writer=other).record({"ci": 1.0})
