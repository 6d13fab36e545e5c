"""The one process pool: it rebuilds itself when a worker dies (also through submit()),
and its workers end when the client dies."""

from __future__ import annotations

import operator
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from resonance_engine.dist import LocalExecutor


def _children(pid: int) -> set[int]:
    """Live child processes of ``pid`` (Linux /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_submit_resubmits_the_tasks_of_a_dead_worker_on_a_rebuilt_pool() -> None:
    with LocalExecutor(2) as pool:
        assert pool.submit(operator.mul, 2, 3).result(timeout=120) == 6
        futures = [pool.submit(time.sleep, 1.0) for _ in range(4)]
        victim = pool.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        # every task the broken pool lost runs again: no BrokenProcessPool
        assert [f.result(timeout=120) for f in futures] == [None] * 4
        assert victim not in pool.worker_pids()
        assert pool.submit(operator.mul, 6, 7).result(timeout=120) == 42


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_kill_9_of_a_sweep_client_leaves_no_pool_worker_running(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "resonance_engine.cli.main", "sweep", "--param",
            "damping=0.05:0.35:4", "--size", "256", "--steps", "200000", "--workers", "2",
            "--no-db", "--quiet", "--out", str(tmp_path)]
    client = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        workers: set[int] = set()
        while len(workers) < 2 and time.monotonic() < deadline and client.poll() is None:
            time.sleep(0.2)
            workers = _children(client.pid)
        assert len(workers) >= 2, "the sweep's pool workers did not start"
        time.sleep(1.0)
        client.send_signal(signal.SIGKILL)
        client.wait(timeout=30)
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in workers if _alive(pid)], "pool workers outlived the client"
    finally:
        if client.poll() is None:
            client.kill()
        for pid in _children(client.pid):
            os.kill(pid, signal.SIGKILL)
