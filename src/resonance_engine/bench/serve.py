"""Dashboard overhead: steps/s of a run watched by one browser vs the same run unwatched.

Two runners of the same simulation (default pond, ``--size`` cells per side) live in one
process: a bare one (no server) and one behind the web server. Short windows of
``--seconds`` rotate between three phases, ``--rounds`` times, so that load from other
processes on a shared machine hits every phase alike; only one runner steps at a time:

- ``bare``: the runner without any server;
- ``unwatched``: the served runner, no client connected;
- ``watched``: the served runner with one client: headless chromium (Debian's
  ``chromium`` through Playwright) showing the page, or a Python WebSocket client that
  acknowledges every frame like the page does.

Reported: median steps/s per phase, the medians of the per-round ratios watched / bare
and watched / unwatched, and the frames/s the client drew while watching.
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

from resonance_engine.cli.args import COUNT, POSITIVE, integer
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
    p.add_argument("--size", type=integer(low=16), default=512, help="cells per side (default 512)")
    p.add_argument("--seconds", type=POSITIVE, default=3.0, help="length of one timed window")
    p.add_argument("--rounds", type=COUNT, default=8, help="rounds of the three phases; medians")
    p.add_argument(
        "--client",
        choices=("auto", "browser", "python"),
        default="auto",
        help="who watches: headless chromium, a Python client, or chromium if found",
    )
    p.add_argument("--fps", type=POSITIVE, default=30.0, help="frame rate asked of the server")
    p.add_argument(
        "--metrics",
        choices=("stats", "complexity"),
        default="stats",
        help="metrics of the runners (default: field statistics; 'complexity' adds the analyzer)",
    )
    p.add_argument("--metrics-every", type=COUNT, default=50, help="steps between metric rows")


def _runner(args: argparse.Namespace) -> Any:
    from resonance_engine.web.chart_feeds import FieldStatsFeed, default_chart_feed
    from resonance_engine.web.runner import SimulationRunner

    solver = default_pond(args.size, seed=args.seed or 0).build()
    source = FieldStatsFeed() if args.metrics == "stats" else default_chart_feed()
    return SimulationRunner(solver, source, fps=args.fps, metrics_every=args.metrics_every)


class _PythonClient:
    """Reads the stream and acks every frame, like the page does after drawing it."""

    def __init__(self, url: str) -> None:
        self.url = url.replace("http://", "ws://") + "ws"
        self.frames = 0
        self.ws: Any = None
        self.thread: threading.Thread | None = None

    def watch(self) -> None:
        from websockets.sync.client import connect

        self.ws = connect(self.url, close_timeout=1, max_size=None)
        self.thread = threading.Thread(target=self._read, args=(self.ws,), daemon=True)
        self.thread.start()

    def _read(self, ws: Any) -> None:
        while True:
            try:
                message = ws.recv()
                if isinstance(message, bytes):
                    self.frames += 1
                    ws.send(json.dumps({"type": "ack"}))
            except Exception:  # closed by unwatch()
                return

    def unwatch(self) -> None:
        self.ws.close()
        if self.thread is not None:
            self.thread.join(5)

    def drawn(self) -> int:
        return self.frames

    def close(self) -> None:
        pass


class _BrowserClient:
    """A headless chromium page that opens the dashboard (watch) or a blank page."""

    def __init__(self, url: str) -> None:
        from playwright.sync_api import sync_playwright

        self.url = url
        self.playwright = sync_playwright().start()
        self.browser = self.playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS
        )
        self.page = self.browser.new_page(viewport={"width": 1400, "height": 900})
        self.total = 0
        self.watching = False

    def watch(self) -> None:
        self.page.goto(self.url)
        self.page.wait_for_function("document.querySelector('#field').dataset.frames >= 1")
        self.watching = True

    def drawn(self) -> int:
        if not self.watching:
            return self.total
        return self.total + int(self.page.get_attribute("#field", "data-frames") or 0)

    def unwatch(self) -> None:
        self.total = self.drawn()
        self.watching = False
        self.page.goto("about:blank")

    def close(self) -> None:
        self.browser.close()
        self.playwright.stop()


def _window(runner: Any, seconds: float) -> float:
    """Steps/s of ``runner`` over one window (it is resumed first, paused after)."""
    runner.request("resume").result(timeout=30)
    time.sleep(0.3)  # settle
    steps, start = runner.solver.step_count, time.perf_counter()
    time.sleep(seconds)
    rate = (runner.solver.step_count - steps) / (time.perf_counter() - start)
    runner.request("pause").result(timeout=30)
    return rate


def run(args: argparse.Namespace) -> dict[str, Any]:
    from resonance_engine.web.server import Dashboard

    client_kind = args.client
    if client_kind == "auto":
        try:
            import playwright  # noqa: F401

            client_kind = "browser" if shutil.which("chromium") else "python"
        except ImportError:
            client_kind = "python"
    bare, served = _runner(args), _runner(args)
    for runner in (bare, served):
        runner.request("pause")
    bare.start()
    dash = Dashboard(served)
    url = dash.start("127.0.0.1", 0)
    hub = dash.app.state.dashboard.hub
    client: Any = _BrowserClient(url) if client_kind == "browser" else _PythonClient(url)
    rates: dict[str, list[float]] = {"bare": [], "unwatched": [], "watched": []}
    fps: list[float] = []
    try:
        _window(bare, 1.0)  # warm up: compile, caches
        _window(served, 1.0)
        for _ in range(args.rounds):
            rates["bare"].append(_window(bare, args.seconds))
            rates["unwatched"].append(_window(served, args.seconds))
            client.watch()
            deadline = time.monotonic() + 30
            while hub.count < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            before, start = client.drawn(), time.perf_counter()
            rates["watched"].append(_window(served, args.seconds))
            fps.append((client.drawn() - before) / (time.perf_counter() - start))
            client.unwatch()
            while hub.count > 0 and time.monotonic() < deadline:
                time.sleep(0.01)
    finally:
        client.close()
        dash.stop()
        bare.stop()
    med = {phase: statistics.median(values) for phase, values in rates.items()}

    def ratio(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(rates[a], rates[b], strict=True))

    return {
        "grid": f"{args.size}x{args.size}",
        "client": "headless chromium" if client_kind == "browser" else "python websocket client",
        "cpu cores": os.cpu_count(),
        "numba threads": os.environ.get("NUMBA_NUM_THREADS", "default"),
        "rounds x seconds": f"{args.rounds} x {args.seconds:g}",
        "bare steps/s (median)": med["bare"],
        "served, unwatched steps/s (median)": med["unwatched"],
        "served, watched steps/s (median)": med["watched"],
        "watched / bare (median of ratios)": ratio("watched", "bare"),
        "watched / unwatched (median of ratios)": ratio("watched", "unwatched"),
        "unwatched / bare (median of ratios)": ratio("unwatched", "bare"),
        "frames/s drawn by the client (median)": statistics.median(fps),
    }
