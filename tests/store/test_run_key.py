"""The run key is unique in the schema (version 2), also in databases made by version 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from resonance_engine.errors import DuplicateRunError
from resonance_engine.store import AgentDB
from resonance_engine.store.connection import open_connection
from resonance_engine.store.schema import APPLICATION_ID, SCHEMA_V1, SCHEMA_VERSION


def test_a_second_run_with_the_same_key_is_refused_with_the_first_ones_id(
    db: AgentDB,
) -> None:
    first = db.create_run({"a": 1}, 0, name="sweep:k1", key="k1")
    with pytest.raises(DuplicateRunError) as caught:
        db.create_run({"a": 1}, 0, name="sweep:k1", key="k1")
    assert caught.value.run_id == first
    assert db.run_for_key("k1").run_id == first and db.run_for_key("k2") is None
    # runs without a key (run, serve, swarm) never collide
    assert db.create_run({}, 0) != db.create_run({}, 0)
    assert len(db.runs()) == 3


def test_a_version_1_database_is_migrated_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    conn = open_connection(str(path))
    conn.execute(SCHEMA_V1)
    conn.execute(
        "INSERT INTO runs(name, started_at, status, seed, config, package_version) "
        "VALUES ('old', 1, 'finished', 0, '{}', '0.1.0')"
    )
    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
    conn.execute("PRAGMA user_version=1")
    conn.close()
    with AgentDB(path) as db:
        assert db.conn.execute("PRAGMA user_version").fetchall()[0][0] == SCHEMA_VERSION
        assert [r.name for r in db.runs()] == ["old"]
        db.create_run({}, 0, key="k")
        with pytest.raises(DuplicateRunError):
            db.create_run({}, 0, key="k")
