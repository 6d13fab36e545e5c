"""The hybrid time-window + KNN query equals a brute-force numpy search over the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from resonance_engine.errors import StoreError
from resonance_engine.store import AgentDB, VectorRecord
from resonance_engine.store.schema import PARTITION_US

HOUR = 3_600_000_000
T_START = 1_750_000_000_000_000  # us since the epoch


@pytest.fixture(scope="module")
def stored() -> Iterator[dict[str, Any]]:
    """900 random unit vectors in 3 runs x 2 types x 2 agents over 5 hours."""
    rng = np.random.default_rng(42)
    db = AgentDB(":memory:")
    rows = []
    vectors = []
    for run_index in range(3):
        run = db.create_run({"i": run_index}, seed=run_index)
        for stype in ("ci", "gain"):
            for agent in ("a", "b"):
                sid = db.series_id(run, stype, agent_id=agent)
                buckets = np.unique(rng.integers(0, 5 * HOUR // 1_000_000, 80)) * 1_000_000
                for b in buckets[:75]:
                    vec = rng.normal(size=128)
                    vec /= np.linalg.norm(vec)
                    value = float(rng.normal())
                    vectors.append(VectorRecord(sid, T_START + int(b), vec, value))
                    rows.append((sid, T_START + int(b), run, stype, value))
    db.insert([], vectors)
    emb = np.array([v.embedding for v in vectors], dtype=np.float32)
    meta = np.array([(r[0], r[1], r[2]) for r in rows], dtype=np.int64)
    yield {
        "db": db,
        "emb": emb,
        "meta": meta,
        "types": np.array([r[3] for r in rows]),
        "values": np.array([r[4] for r in rows]),
        "rng": rng,
    }
    db.close()


def brute_force(
    s: dict[str, Any],
    query: np.ndarray,
    k: int,
    max_distance: float | None,
    t0: int | None = None,
    t1: int | None = None,
    series_ids: Any = None,
    run_id: int | None = None,
    exclude_run_id: int | None = None,
    series_type: str | None = None,
) -> list[tuple[int, int, float, float]]:
    meta = s["meta"]
    keep = np.ones(len(meta), dtype=bool)
    if t0 is not None:
        keep &= meta[:, 1] >= t0
    if t1 is not None:
        keep &= meta[:, 1] <= t1
    if series_ids is not None:
        keep &= np.isin(meta[:, 0], series_ids)
    if run_id is not None:
        keep &= meta[:, 2] == run_id
    if exclude_run_id is not None:
        keep &= meta[:, 2] != exclude_run_id
    if series_type is not None:
        keep &= s["types"] == series_type
    emb = s["emb"].astype(np.float64)
    q = query.astype(np.float64)
    cos = emb @ q / (np.linalg.norm(emb, axis=1) * np.linalg.norm(q))
    dist = 1.0 - cos
    idx = np.flatnonzero(keep)
    idx = idx[np.argsort(dist[idx], kind="stable")][:k]
    if max_distance is not None:
        idx = idx[dist[idx] <= max_distance]
    return [(int(meta[i, 0]), int(meta[i, 1]), float(s["values"][i]), float(dist[i])) for i in idx]


CASES = [
    {},
    {"t0": T_START + HOUR, "t1": T_START + 2 * HOUR},  # one-hour window (two partitions)
    {"t0": T_START + HOUR + 1234},
    {"t1": T_START + 30 * 60_000_000},
    {"series_ids": [1, 4, 7]},
    {"t0": T_START + 2 * HOUR, "t1": T_START + 3 * HOUR + 1, "series_ids": [2, 3, 10, 11]},
    {"run_id": 2},
    {"exclude_run_id": 1, "series_type": "gain"},
    {"series_type": "ci", "t0": T_START, "t1": T_START + HOUR // 2},
]


@pytest.mark.parametrize("filters", CASES)
@pytest.mark.parametrize("k", [1, 20, 300])
def test_similar_equals_brute_force(
    stored: dict[str, Any], filters: dict[str, Any], k: int
) -> None:
    db: AgentDB = stored["db"]
    rng = stored["rng"]
    for query in (stored["emb"][int(rng.integers(len(stored["emb"])))], rng.normal(size=128)):
        for max_distance in (None, 1.0):
            hits = db.similar(query, k=k, max_distance=max_distance, **filters)
            expected = brute_force(stored, query, k, max_distance, **filters)
            assert [(h.series_id, h.timestamp_bucket) for h in hits] == [e[:2] for e in expected]
            np.testing.assert_allclose(
                [h.distance for h in hits], [e[3] for e in expected], atol=2e-6
            )
            np.testing.assert_allclose([h.value for h in hits], [e[2] for e in expected], rtol=1e-6)
            if max_distance is None:
                # a filter never returns fewer than k rows while more match
                assert len(hits) == min(k, len(brute_force(stored, query, 10**6, None, **filters)))


def test_window_spans_several_partitions(stored: dict[str, Any]) -> None:
    parts = {int(b) // PARTITION_US for b in stored["meta"][:, 1]}
    assert len(parts) >= 5


def test_query_edge_cases(stored: dict[str, Any]) -> None:
    db: AgentDB = stored["db"]
    q = stored["emb"][0]
    assert db.similar(q, series_ids=[]) == []
    hit = db.similar(q, k=1)[0]
    assert hit.distance == pytest.approx(0.0, abs=1e-6)
    assert db.similar(q, t0=T_START + 10 * HOUR) == []
    with pytest.raises(StoreError, match="k must"):
        db.similar(q, k=0)
    with pytest.raises(StoreError, match="k must"):
        db.similar(q, k=5000)
    with pytest.raises(StoreError, match="shape"):
        db.similar(q[:64])
