"""Helpers of the dist tests: small plans, killing a process."""

from __future__ import annotations

import os
import signal
import threading
import time

from resonance_engine.dist import RunSpec, parse_param, plan_sweep


def small_plan(steps: int = 30) -> tuple[list, list[RunSpec]]:
    """8 configurations of a 48x48 pond: 4 dampings x 2 frequencies."""
    return plan_sweep(
        None,
        [parse_param("damping=0.05:0.35:4"), parse_param("frequency=6,11")],
        size=48,
        steps=steps,
    )


def slow_plan() -> tuple[list, list[RunSpec]]:
    """8 configurations that each take a noticeable time (128x128, 800 steps)."""
    return plan_sweep(
        None,
        [parse_param("damping=0.05:0.35:4"), parse_param("frequency=6,11")],
        size=128,
        steps=800,
        seed=3,
    )


def kill_later(pid: int, delay: float = 0.0) -> threading.Thread:
    """SIGKILL a process from a background thread after ``delay`` seconds."""

    def kill() -> None:
        time.sleep(delay)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread
