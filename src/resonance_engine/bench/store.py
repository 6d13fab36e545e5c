"""AgentDB write rates and hybrid query latency.

Write rates (records/s into ``timeseries_data`` of a fresh file database, WAL,
synchronous=NORMAL), measured in the same run:

- raw: one prepared apsw ``executemany`` of all records in one transaction (100 series
  reporting together, the interleaved order of real agents);
- writer: :class:`~resonance_engine.store.MetricWriter` fed by ``--producers`` threads
  with ``add_many`` chunks of ``--chunk`` records, from the first add (every producer
  thread started and waiting at a barrier) until ``close()`` returns (everything
  committed); the ratio writer / raw;
- writer add(): the same with one ``add`` call per record.

Rounds of the cases are interleaved and medians reported; rates per CPU-second (all
threads of the process) are printed too, since wall time on a shared machine drifts.

Hybrid query latency (p50, p95 over ``--queries`` random queries, k = 20; and the p50
of the querying thread's CPU time) at each of
``--sizes`` stored 128-d fingerprints spread uniformly over ``--span-hours`` hours in 100
series: without a time filter and with a one-hour window (``--window-hours``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from typing import Any

import numpy as np

from resonance_engine.cli.args import COUNT, COUNT0, POSITIVE, integers, output_folder
from resonance_engine.cli.common import output_dir
from resonance_engine.store import AgentDB, MetricRecord, MetricWriter, VectorRecord
from resonance_engine.store.batch import INSERT_RECORD, BatchWriter

__all__ = ["add_arguments", "run"]

HOUR_US = 3_600_000_000
T0_US = 1_750_000_000_000_000


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--records", type=COUNT0, default=1_000_000,
                   help="records per write measurement (default 1000000; 0 skips it)")
    p.add_argument("--producers", type=COUNT, default=4, help="producer threads (default 4)")
    p.add_argument("--chunk", type=COUNT, default=1000, help="records per add_many (default 1000)")
    p.add_argument("--buffers", type=integers(low=1), default="50000,5000",
                   help="MetricWriter max_buffer_size values to measure; add() runs with the "
                        "first (default 50000,5000: the writer's default, and a tenth of it)")
    p.add_argument("--repeats", type=COUNT, default=3, help="write rounds; medians reported")
    p.add_argument("--sizes", type=integers(low=1, empty=True), default="10000,100000,1000000",
                   help="stored vector counts for the query benchmark; '' skips it (1M takes "
                        "minutes to build and about 1 GB of disk)")
    p.add_argument("--span-hours", type=POSITIVE, default=168.0,
                   help="time span the vectors are spread over (default one week)")
    p.add_argument("--window-hours", type=POSITIVE, default=1.0, help="query window (default 1 h)")
    p.add_argument("--queries", type=COUNT, default=50, help="queries per case (default 50)")
    p.add_argument("--dir", type=output_folder, default=None,
                   help="folder for the temporary databases")


def _records(series: int, per_series: int, round_: int) -> list[MetricRecord]:
    """Records of ``series`` agents reporting together at each time (interleaved)."""
    base = round_ * 10**12
    return [MetricRecord(s, base + t, 0.5) for t in range(per_series) for s in range(1, series + 1)]


def _fresh_db(folder: str, name: str, series: int) -> AgentDB:
    db = AgentDB(os.path.join(folder, name))
    run = db.create_run({"bench": "store"}, seed=0)
    for i in range(series):
        db.series_id(run, "ci", agent_id=f"agent{i}")
    return db


def _raw_round(db: AgentDB, n: int, round_: int) -> tuple[float, float]:
    """records/s of wall time and of process CPU time for one executemany transaction."""
    conn = db.connect()
    rows = _records(100, n // 100, round_)
    start, cpu = time.perf_counter(), time.process_time()
    with conn:
        conn.executemany(INSERT_RECORD, rows)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    conn.close()
    return len(rows) / wall, len(rows) / max(cpu, 1e-9)


def _writer_round(db: AgentDB, n: int, round_: int, producers: int, chunk: int,
                  single: bool, buffer: int) -> tuple[float, float]:
    """The same through MetricWriter fed by ``producers`` threads, until close() returns."""
    rows = _records(100, n // 100, round_)
    share = len(rows) // producers
    parts = [rows[i * share : (i + 1) * share] for i in range(producers)]
    writer = MetricWriter(db, max_buffer_size=buffer)
    # the clock starts when every producer is ready (the barrier's action runs before
    # any of them goes on): a thread that starts while others already run waits for the
    # interpreter lock, 5 ms a switch, which is not the writer's time
    clock: list[float] = []
    ready = threading.Barrier(
        producers + 1, action=lambda: clock.extend((time.perf_counter(), time.process_time()))
    )

    def produce(part: list[MetricRecord]) -> None:
        ready.wait()
        if single:
            for record in part:
                writer.add(record)
        else:
            for i in range(0, len(part), chunk):
                writer.add_many(part[i : i + chunk])

    threads = [threading.Thread(target=produce, args=(p,)) for p in parts]
    for th in threads:
        th.start()
    ready.wait()
    for th in threads:
        th.join()
    writer.close()
    wall, cpu = time.perf_counter() - clock[0], time.process_time() - clock[1]
    return share * producers / wall, share * producers / max(cpu, 1e-9)


def _write_rates(folder: str, args: argparse.Namespace) -> dict[str, Any]:
    """Raw and writer rounds interleaved (load drift hits both alike); medians."""
    buffers = list(args.buffers)
    p = args.producers
    cases: dict[str, tuple[AgentDB, Any]] = {
        "raw": (_fresh_db(folder, "raw.db", 100),
                lambda db, r: _raw_round(db, args.records, r)),
    }
    for b in buffers:
        cases[f"writer(buffer {b}) add_many x{p}"] = (
            _fresh_db(folder, f"many-{b}.db", 100),
            lambda db, r, b=b: _writer_round(db, args.records, r, p, args.chunk, False, b))
    cases[f"writer(buffer {buffers[0]}) add() x{p}"] = (
        _fresh_db(folder, "single.db", 100),
        lambda db, r: _writer_round(db, args.records, r, p, args.chunk, True, buffers[0]))
    walls: dict[str, list[float]] = {name: [] for name in cases}
    cpus: dict[str, list[float]] = {name: [] for name in cases}
    for r in range(args.repeats):
        for name, (db, measure) in cases.items():
            wall, cpu = measure(db, r)
            walls[name].append(wall)
            cpus[name].append(cpu)
    results: dict[str, Any] = {}
    raw, raw_cpu = statistics.median(walls["raw"]), statistics.median(cpus["raw"])
    for name, (db, _) in cases.items():
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        results[f"{name} records/s"] = wall
        # on a shared machine the CPU-time rates are steadier than the wall-time ones
        results[f"{name} records per CPU-s"] = cpu
        if name != "raw":
            results[f"{name} / raw"] = wall / raw
            results[f"{name} / raw (CPU time)"] = cpu / raw_cpu
        db.close()
    return results


def _build_vectors(folder: str, size: int, span_us: int, rng: np.random.Generator) -> AgentDB:
    db = _fresh_db(folder, f"vectors-{size}.db", 100)
    batch = BatchWriter(db.connect())
    done = 0
    while done < size:
        n = min(20_000, size - done)
        emb = rng.normal(size=(n, 128)).astype(np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        series = rng.integers(1, 101, n)
        # distinct (series, bucket): bucket = 1 s slots, offset by the running index
        slots = rng.integers(0, span_us // 1_000_000, n) * 1_000_000
        stamps = T0_US + slots + done + np.arange(n)
        vectors = [VectorRecord(int(s), int(t), e.tobytes(), 0.5)
                   for s, t, e in zip(series, stamps, emb, strict=True)]
        batch.write([], vectors)
        done += n
    batch.conn.close()
    return db


def _percentiles(samples: list[float]) -> tuple[float, float]:
    arr = np.array(samples) * 1e3
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"cpu_count": os.cpu_count(), "records": args.records}
    if args.dir is not None:
        output_dir(args.dir)  # create it, or a one-line ConfigError
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="resonance-bench-") as folder:
        if args.records > 0:
            results.update(_write_rates(folder, args))

        rng = np.random.default_rng(0)
        span = int(args.span_hours * HOUR_US)
        window = int(args.window_hours * HOUR_US)
        for size in args.sizes:
            start = time.perf_counter()
            db = _build_vectors(folder, size, span, rng)
            build = time.perf_counter() - start
            results[f"{size} vectors build s"] = build
            queries = rng.normal(size=(args.queries, 128)).astype(np.float32)
            cases = (("no window", False), (f"{args.window_hours:g} h window", True))
            for label, windowed in cases:
                samples = []
                cpu_samples = []
                for q in queries:
                    t0: int | None = T0_US + int(rng.integers(0, max(span - window, 1)))
                    t1 = t0 + window if t0 is not None else None
                    if not windowed:
                        t0 = t1 = None
                    begin, cpu = time.perf_counter(), time.thread_time()
                    db.similar(q, t0, t1, k=20, max_distance=None)
                    samples.append(time.perf_counter() - begin)
                    cpu_samples.append(time.thread_time() - cpu)
                p50, p95 = _percentiles(samples)
                results[f"{size} {label} p50 ms"] = p50
                results[f"{size} {label} p95 ms"] = p95
                # CPU time of the querying thread: what the query costs without the
                # other processes of a shared machine
                results[f"{size} {label} CPU p50 ms"] = _percentiles(cpu_samples)[0]
            results[f"{size} vectors per window (mean)"] = size * window / span
            db.close()
    return results
