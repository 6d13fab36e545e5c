"""The AgentDB schema, its version and its migrations.

Tables (the blueprint's names and columns, plus what real use needs):

``runs``
    One row per simulation or swarm run: ``run_id``, ``name``, ``started_at`` and
    ``finished_at`` (microseconds since the Unix epoch), ``status`` ("running",
    "finished", "stopped", "interrupted", "failed"), ``seed``, ``config`` (JSON),
    ``package_version``, ``summary`` (JSON) and ``run_key`` (unique when set: a sweep's
    run key, so that two identical sweeps store each run once; schema version 2).
``metric_series``
    One row per (run, agent, series name): ``series_id``, ``series_name``,
    ``series_type`` (e.g. "fractal_dim", "gain", "coherence", "dwell", "ci"), ``agent_id``
    (NULL for a single-agent run), ``created_at`` (us), ``run_id``.
``timeseries_data``
    ``WITHOUT ROWID``, primary key (``series_id``, ``timestamp``): ``timestamp`` in
    microseconds since the epoch, ``value`` REAL NOT NULL, ``metadata`` (JSON text or NULL).
    No secondary index: every query goes through a series (the primary key), and an
    index on (timestamp, series_id) would cost about a fifth of the write rate.
``metric_vectors``
    A ``vec0`` virtual table: ``embedding float[128]`` with cosine distance, partition key
    ``time_partition`` (= ``timestamp_bucket // PARTITION_US``, one hour) and metadata
    columns ``series_id``, ``timestamp_bucket``, ``series_type``, ``run_id`` (0 = none), so
    that time-window, series, type and run filters apply inside the KNN search, before
    the k nearest are chosen; auxiliary column ``+value`` (the series value at the
    fingerprint); ``chunk_size`` :data:`VECTOR_CHUNK`.
``metric_vector_links``
    Primary key (``series_id``, ``timestamp_bucket``) -> ``vector_rowid`` (the rowid in
    ``metric_vectors``) and ``spatial_location`` (JSON or NULL): at most one fingerprint
    per series and time bucket.
``alerts``
    Health alerts of a run: ``alert_id``, ``run_id``, ``agent_id``, ``timestamp`` (us),
    ``kind``, ``message``, ``value``.

Version 3 adds the tables of :mod:`resonance_engine.control` and
:mod:`resonance_engine.optimize`:

``trajectories``
    ``WITHOUT ROWID``, primary key (``safe_set``, ``episode``, ``t``): the sampled safe set
    of a learning MPC. ``x`` is the state at step ``t`` and ``u`` the input applied there
    (JSON arrays; ``u`` is NULL at the last state), ``cost_to_go`` the cost accumulated
    from step ``t`` to the end of the episode, ``created_at`` (us).
``optimizations``
    One row per optimisation: ``optimization_id``, ``name``, ``started_at``,
    ``finished_at`` (us), ``status`` ("running", "finished", "interrupted", "failed"),
    ``seed``, ``config`` (JSON: objective, parameters, x0, sigma0, bounds, options),
    ``best_value`` and ``best_params`` (JSON).
``evaluations``
    ``WITHOUT ROWID``, primary key (``optimization_id``, ``evaluation``): every objective
    evaluation, numbered in the order the optimiser asked for them, with ``generation``,
    ``restart``, ``params`` (JSON array), ``value`` and ``seeds`` (JSON array of the
    replicate seeds), ``created_at`` (us).

The schema version is ``PRAGMA user_version``; ``PRAGMA application_id`` marks the file
as an AgentDB database.
"""

from __future__ import annotations

from collections.abc import Callable

import apsw

__all__ = [
    "SCHEMA_VERSION",
    "APPLICATION_ID",
    "VECTOR_DIM",
    "PARTITION_US",
    "VECTOR_CHUNK",
    "MIGRATIONS",
    "SCHEMA_V1",
    "SCHEMA_V2",
    "SCHEMA_V3",
]

#: Version written to ``PRAGMA user_version``; a database with a larger one is refused.
SCHEMA_VERSION = 3

#: ``PRAGMA application_id`` of AgentDB files ("RSNE").
APPLICATION_ID = 0x52534E45

#: Dimension of the stored fingerprints.
VECTOR_DIM = 128

#: Width of one vec0 partition of ``metric_vectors`` (us): one hour.
PARTITION_US = 3_600_000_000

#: Vectors per vec0 chunk. Every partition allocates whole chunks (128 x 512 bytes), so
#: small chunks keep sparse partitions (a few short runs per hour) small; the default of
#: 1024 made 10K vectors spread over a week take 200 MB instead of 29 MB, and their
#: unfiltered query 9x slower.
VECTOR_CHUNK = 128

SCHEMA_V1 = f"""
CREATE TABLE runs (
    run_id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT,
    started_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    status          TEXT NOT NULL DEFAULT 'running',
    seed            INTEGER,
    config          TEXT NOT NULL,
    package_version TEXT NOT NULL,
    summary         TEXT
);

CREATE TABLE metric_series (
    series_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    series_name TEXT NOT NULL,
    series_type TEXT NOT NULL,
    agent_id    TEXT,
    created_at  INTEGER NOT NULL,
    run_id      INTEGER REFERENCES runs(run_id)
);
CREATE UNIQUE INDEX idx_series_key
    ON metric_series(coalesce(run_id, 0), coalesce(agent_id, ''), series_name);

CREATE TABLE timeseries_data (
    series_id INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    value     REAL NOT NULL,
    metadata  TEXT,
    PRIMARY KEY (series_id, timestamp)
) WITHOUT ROWID;

CREATE VIRTUAL TABLE metric_vectors USING vec0(
    time_partition integer partition key,
    embedding float[{VECTOR_DIM}] distance_metric=cosine,
    series_id integer,
    timestamp_bucket integer,
    series_type text,
    run_id integer,
    +value float,
    chunk_size={VECTOR_CHUNK}
);

CREATE TABLE metric_vector_links (
    series_id        INTEGER NOT NULL REFERENCES metric_series(series_id),
    timestamp_bucket INTEGER NOT NULL,
    vector_rowid     INTEGER NOT NULL UNIQUE,
    spatial_location TEXT,
    PRIMARY KEY (series_id, timestamp_bucket)
);
CREATE INDEX idx_vector_links ON metric_vector_links(timestamp_bucket, series_id);

CREATE TABLE alerts (
    alert_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id    INTEGER REFERENCES runs(run_id),
    agent_id  TEXT,
    timestamp INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    message   TEXT NOT NULL,
    value     REAL
);
CREATE INDEX idx_alerts_run_time ON alerts(run_id, timestamp);
"""


def _create_v1(conn: apsw.Connection) -> None:
    conn.execute(SCHEMA_V1)


#: Version 2: ``runs.run_key``, the identity of a run (a sweep's run key), unique.
SCHEMA_V2 = """
ALTER TABLE runs ADD COLUMN run_key TEXT;
CREATE UNIQUE INDEX idx_runs_key ON runs(run_key) WHERE run_key IS NOT NULL;
"""


def _add_run_key(conn: apsw.Connection) -> None:
    conn.execute(SCHEMA_V2)


#: Version 3: the tables of learning MPC and the optimiser.
SCHEMA_V3 = """
CREATE TABLE trajectories (
    safe_set   TEXT NOT NULL,
    episode    INTEGER NOT NULL,
    t          INTEGER NOT NULL,
    x          TEXT NOT NULL,
    u          TEXT,
    cost_to_go REAL NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (safe_set, episode, t)
) WITHOUT ROWID;

CREATE TABLE optimizations (
    optimization_id INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT,
    started_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    status          TEXT NOT NULL DEFAULT 'running',
    seed            INTEGER,
    config          TEXT NOT NULL,
    best_value      REAL,
    best_params     TEXT
);

CREATE TABLE evaluations (
    optimization_id INTEGER NOT NULL REFERENCES optimizations(optimization_id),
    evaluation      INTEGER NOT NULL,
    generation      INTEGER NOT NULL,
    restart         INTEGER NOT NULL,
    params          TEXT NOT NULL,
    value           REAL NOT NULL,
    seeds           TEXT,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (optimization_id, evaluation)
) WITHOUT ROWID;
"""


def _add_control_tables(conn: apsw.Connection) -> None:
    conn.execute(SCHEMA_V3)


#: ``MIGRATIONS[v]`` moves a database from version ``v`` to ``v + 1`` inside one
#: transaction (version 0 is an empty file). Append one function per new version.
MIGRATIONS: list[Callable[[apsw.Connection], None]] = [
    _create_v1,
    _add_run_key,
    _add_control_tables,
]

assert len(MIGRATIONS) == SCHEMA_VERSION
