"""Dashboard overhead: steps/s of a run watched by one browser vs the same run unserved.

Three ways of running the same simulation (default pond, ``--size`` cells per side),
interleaved ``--repeats`` times so that load from other processes hits them alike:

- ``loop``: ``solver.step(chunk)`` in a plain loop (no runner, no metrics);
- ``runner``: the dashboard's simulation thread with its metrics, no server;
- ``served``: the same runner behind the web server with one client watching: headless
  chromium (Debian's ``chromium`` through Playwright) when available, else a Python
  WebSocket client that acknowledges frames like the page does.

Reported: the median steps/s of each, the ratio served / runner (the dashboard's cost),
and the frames/s the client drew.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import threading
import time
from typing import Any

from resonance_engine.config import default_pond

__all__ = ["add_arguments", "run"]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=int, default=512, help="cells per side (default 512)")
    p.add_argument("--seconds", type=float, default=8.0, help="length of each timed window")
    p.add_argument("--repeats", type=int, default=3, help="rounds of the three ways; medians")
    p.add_argument(
        "--client",
        choices=("auto", "browser", "python"),
        default="auto",
        help="who watches: headless chromium, a Python client, or chromium if found",
    )
    p.add_argument("--fps", type=float, default=30.0, help="frame rate asked of the server")
    p.add_argument(
        "--metrics",
        choices=("stats", "auto"),
        default="stats",
        help="metrics source of the runner (default: field statistics)",
    )


def _runner(args: argparse.Namespace) -> Any:
    from resonance_engine.web.runner import SimulationRunner
    from resonance_engine.web.sources import FieldStatsSource, default_metrics_source

    solver = default_pond(args.size, seed=args.seed or 0).build()
    source = FieldStatsSource() if args.metrics == "stats" else default_metrics_source()
    return SimulationRunner(solver, source, fps=args.fps)


def _rate_of(runner: Any, seconds: float) -> float:
    time.sleep(1.0)  # warm up (compile, first frames)
    start_step, start = runner.solver.step_count, time.perf_counter()
    time.sleep(seconds)
    return (runner.solver.step_count - start_step) / (time.perf_counter() - start)


def _loop(args: argparse.Namespace) -> float:
    solver = default_pond(args.size, seed=args.seed or 0).build()
    solver.step(10)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        solver.step(10)
        steps += 10
    return steps / (time.perf_counter() - start)


def _unserved(args: argparse.Namespace) -> float:
    runner = _runner(args)
    runner.start()
    try:
        return _rate_of(runner, args.seconds)
    finally:
        runner.stop()


class _PythonClient:
    """Reads the stream and acks every frame, like the page does after drawing it."""

    def __init__(self, url: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(url.replace("http://", "ws://") + "ws", close_timeout=1)
        self.frames = 0
        self.stop = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while not self.stop:
            try:
                message = self.ws.recv(timeout=0.5)
            except TimeoutError:
                continue
            except Exception:
                return
            if isinstance(message, bytes):
                self.frames += 1
                self.ws.send(json.dumps({"type": "ack"}))

    def drawn(self) -> int:
        return self.frames

    def close(self) -> None:
        self.stop = True
        self.ws.close()
        self.thread.join(5)


class _BrowserClient:
    def __init__(self, url: str) -> None:
        from playwright.sync_api import sync_playwright

        self.playwright = sync_playwright().start()
        self.browser = self.playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS
        )
        self.page = self.browser.new_page(viewport={"width": 1400, "height": 900})
        self.page.goto(url)
        self.page.wait_for_function("document.querySelector('#field').dataset.frames >= 1")

    def drawn(self) -> int:
        return int(self.page.get_attribute("#field", "data-frames") or 0)

    def close(self) -> None:
        self.browser.close()
        self.playwright.stop()


def _served(args: argparse.Namespace, client_kind: str) -> tuple[float, float]:
    from resonance_engine.web.server import Dashboard

    runner = _runner(args)
    dash = Dashboard(runner)
    url = dash.start("127.0.0.1", 0)
    client: Any = None
    try:
        client = _BrowserClient(url) if client_kind == "browser" else _PythonClient(url)
        time.sleep(1.0)
        start_step, start_frames = runner.solver.step_count, client.drawn()
        start = time.perf_counter()
        time.sleep(args.seconds)
        elapsed = time.perf_counter() - start
        steps = runner.solver.step_count - start_step
        frames = client.drawn() - start_frames
        return steps / elapsed, frames / elapsed
    finally:
        if client is not None:
            client.close()
        dash.stop()


def run(args: argparse.Namespace) -> dict[str, Any]:
    client = args.client
    if client == "auto":
        try:
            import playwright  # noqa: F401

            client = "browser" if shutil.which("chromium") else "python"
        except ImportError:
            client = "python"
    loops, unserved, served, fps = [], [], [], []
    for _ in range(args.repeats):
        loops.append(_loop(args))
        unserved.append(_unserved(args))
        rate, frames = _served(args, client)
        served.append(rate)
        fps.append(frames)
    ratios = [s / u for s, u in zip(served, unserved, strict=True)]
    return {
        "grid": f"{args.size}x{args.size}",
        "client": "headless chromium" if client == "browser" else "python websocket client",
        "cpu cores": os.cpu_count(),
        "numba threads": os.environ.get("NUMBA_NUM_THREADS", "default"),
        "repeats": args.repeats,
        "loop steps/s (median)": statistics.median(loops),
        "runner steps/s, no server (median)": statistics.median(unserved),
        "served steps/s, 1 client (median)": statistics.median(served),
        "served / runner (median of ratios)": statistics.median(ratios),
        "frames/s drawn by the client (median)": statistics.median(fps),
        "served / runner per round": ", ".join(f"{r:.3f}" for r in ratios),
    }
