"""Crash safety and concurrency: SIGKILL mid-write, SIGTERM/Ctrl-C, readers during writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from resonance_engine.store import AgentDB, MetricRecord, MetricWriter

PRODUCER = """
import signal, sys, time
from resonance_engine.store import AgentDB, MetricRecord, MetricWriter
# the application owns its signals (the library installs none): SIGTERM -> SystemExit,
# and the writer's atexit hook writes the buffer
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
db = AgentDB(sys.argv[1])
sid, mode = int(sys.argv[2]), sys.argv[3]
if mode == "kill":
    w = MetricWriter(db, max_buffer_size=2000, flush_interval=0.005)
    t = 0
    while True:
        w.add_many([MetricRecord(sid, t + i, float(t + i)) for i in range(1000)])
        t += 1000
        if t % 4000 == 0:
            w.flush()
            print(t, flush=True)
elif mode == "term":
    w = MetricWriter(db, max_buffer_size=1_000_000, flush_interval=3600)
    w.add_many([MetricRecord(sid, t, 1.0) for t in range(30_000)])
    print("added", flush=True)
    time.sleep(60)
elif mode == "int":
    with MetricWriter(db, max_buffer_size=1_000_000, flush_interval=3600) as w:
        w.add_many([MetricRecord(sid, t, 1.0) for t in range(30_000)])
        print("added", flush=True)
        time.sleep(60)
"""


def _spawn(db_path: Path, sid: int, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", PRODUCER, str(db_path), str(sid), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _new_series(db_path: Path, name: str) -> int:
    with AgentDB(db_path) as db:
        return db.series_id(db.create_run({}, 0), "ci", name=name)


def test_sigkill_mid_write_keeps_every_flushed_record(db_path: Path) -> None:
    for round_, lines_before_kill in enumerate((3, 12)):
        sid = _new_series(db_path, f"kill{round_}")
        proc = _spawn(db_path, sid, "kill")
        assert proc.stdout is not None
        flushed = 0
        for _ in range(lines_before_kill):
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else "producer died"
            flushed = int(line)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        with AgentDB(db_path) as db:
            assert db.integrity_check() == "ok"
            stamps, values = db.range_arrays(sid, t0=0, t1=flushed - 1)
            assert stamps.tolist() == list(range(flushed))
            assert values.tolist() == [float(t) for t in range(flushed)]
            assert db.count(sid) >= flushed  # and maybe more, committed after the print


def _terminate_and_check(db_path: Path, mode: str, sig: int) -> None:
    sid = _new_series(db_path, mode)
    proc = _spawn(db_path, sid, mode)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "added", proc.communicate()[1]
    proc.send_signal(sig)
    proc.wait(timeout=60)
    with AgentDB(db_path) as db:
        assert db.count(sid) == 30_000
        assert db.integrity_check() == "ok"


def test_sigterm_writes_the_buffer(db_path: Path) -> None:
    _terminate_and_check(db_path, "term", signal.SIGTERM)


def test_ctrl_c_writes_the_buffer(db_path: Path) -> None:
    _terminate_and_check(db_path, "int", signal.SIGINT)


def test_readers_during_writes_see_whole_batches_and_no_lock_errors(db_path: Path) -> None:
    sid = _new_series(db_path, "rw")
    batch, batches = 1000, 60
    stop = threading.Event()
    errors: list[BaseException] = []
    seen: list[list[int]] = [[], []]

    def read(slot: int) -> None:
        try:
            with AgentDB(db_path, readonly=slot == 1) as reader:
                while True:
                    finished = stop.is_set()  # set after the writer closed
                    n = reader.count(sid)
                    seen[slot].append(n)
                    last = reader.latest(sid)
                    if last is not None:
                        assert last.timestamp >= n - 1
                    if finished:
                        break
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    readers = [threading.Thread(target=read, args=(i,)) for i in range(2)]
    for th in readers:
        th.start()
    with AgentDB(db_path) as db, MetricWriter(db, max_buffer_size=5000, flush_interval=0.001) as w:
        for b in range(batches):
            w.add_many([MetricRecord(sid, b * batch + i, 1.0) for i in range(batch)])
            if b % 5 == 0:
                w.flush()
            time.sleep(0.002)
    stop.set()
    for th in readers:
        th.join()
    assert errors == []
    for counts in seen:
        assert len(counts) > 3
        assert all(c % batch == 0 for c in counts)  # each transaction is whole batches
        assert counts == sorted(counts)  # never goes back
        assert counts[-1] == batch * batches
