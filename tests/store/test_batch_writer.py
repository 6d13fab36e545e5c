"""BatchWriter: records go in multi-row INSERT statements; what is stored must not depend
on how the batch is cut into statements."""

from __future__ import annotations

import math
from typing import Any

import apsw
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resonance_engine.errors import RejectedRecordsError
from resonance_engine.store import AgentDB, MetricRecord
from resonance_engine.store.batch import ROWS_PER_INSERT


def _stored(db: AgentDB) -> list[tuple[Any, ...]]:
    rows = db.conn.execute(
        "SELECT series_id, timestamp, value, metadata FROM timeseries_data ORDER BY 1, 2"
    ).fetchall()
    return [tuple(r) for r in rows]


def _expected(records: list[MetricRecord], known: set[int]) -> tuple[list[tuple], list]:
    """The documented rules: unknown series and repeated keys are rejected, the first
    record of each key is stored (values as REAL)."""
    kept: dict[tuple[int, int], tuple] = {}
    rejected = []
    for r in records:
        key = (r.series_id, r.timestamp)
        if r.series_id not in known or key in kept:
            rejected.append(r)
        else:
            kept[key] = (r.series_id, r.timestamp, float(r.value), r.metadata)
    return [kept[k] for k in sorted(kept)], rejected


def _insert(db: AgentDB, records: list[MetricRecord]) -> list[MetricRecord]:
    try:
        db.insert(records)
    except RejectedRecordsError as exc:
        return list(exc.records)
    return []


values = st.one_of(
    st.floats(allow_nan=False, width=64), st.integers(-(2**53), 2**53),
    st.sampled_from([math.inf, -math.inf, 0.0, -0.0]),
)


@settings(max_examples=150, deadline=None)
@given(
    fields=st.lists(
        st.tuples(st.integers(1, 4), st.integers(0, 30), values,
                  st.one_of(st.none(), st.text(max_size=4))),
        max_size=40,
    ),
    parameter_limit=st.sampled_from([4, 8, 12, 20]),
)
def test_any_statement_size_stores_the_first_of_each_key(
    fields: list[tuple], parameter_limit: int
) -> None:
    db = AgentDB(":memory:")
    run = db.create_run({}, seed=0)
    known = {db.series_id(run, "ci", agent_id=f"a{i}") for i in range(3)}
    # a lower parameter limit makes statements of parameter_limit // 4 rows
    db.conn.limit(apsw.SQLITE_LIMIT_VARIABLE_NUMBER, parameter_limit)
    records = [MetricRecord(*f) for f in fields]
    rejected = _insert(db, records)
    rows, expected_rejected = _expected(records, known)
    assert _stored(db) == rows
    assert sorted(rejected, key=repr) == sorted(expected_rejected, key=repr)
    db.close()


def test_whole_statements_and_the_rest_store_every_record_once() -> None:
    db = AgentDB(":memory:")
    run = db.create_run({}, seed=0)
    a, b = db.series_id(run, "ci", agent_id="a"), db.series_id(run, "ci", agent_id="b")
    n = 2 * ROWS_PER_INSERT + ROWS_PER_INSERT // 2  # two whole statements and a rest
    records = [MetricRecord(a if i % 2 else b, i // 2, i * 0.5, f"m{i}" if i % 7 == 0 else None)
               for i in range(n)]
    duplicate = records[ROWS_PER_INSERT + 10]._replace(value=-1.0)  # in the second statement
    unknown = MetricRecord(b + 1, 0, 1.0)
    records.insert(ROWS_PER_INSERT + 20, duplicate)
    records.append(unknown)  # in the rest
    rejected = _insert(db, records)
    rows, expected_rejected = _expected(records, {a, b})
    assert len(rows) == n
    assert _stored(db) == rows
    assert sorted(rejected, key=repr) == sorted([duplicate, unknown], key=repr)
    assert expected_rejected == [duplicate, unknown]
    db.close()


@pytest.mark.parametrize("count", [ROWS_PER_INSERT - 1, ROWS_PER_INSERT, ROWS_PER_INSERT + 1])
def test_batches_at_the_statement_size_lose_nothing(count: int) -> None:
    db = AgentDB(":memory:")
    sid = db.series_id(db.create_run({}, seed=0), "ci")
    records = [MetricRecord(sid, t, float(t)) for t in range(count)]
    db.insert(records)
    assert _stored(db) == [(sid, t, float(t), None) for t in range(count)]
    db.close()
