"""The browser engine's throughput: steps/s of the default pond per grid size for

- ``webgpu``: the WGSL shaders in headless chromium (Debian's package through Playwright;
  WebGPU on its software adapter SwiftShader here, a real GPU where chromium has one),
- ``js-cpu``: the JavaScript CPU fallback in the same chromium,
- ``node-webgpu``: the same module under Node.js with the ``webgpu`` npm package (Dawn),
  when ``node`` and that package are found (``--node-modules``),
- ``numba``: the Python engine's CPU default, the baseline, measured in the same run.

Each figure is the median of ``--repeats`` rounds of at least ``--seconds`` each; a
round ends with a read-back (the finiteness check), so queued GPU work is counted. Beside
the steps/s, the time of one frame of the measures (``metrics()`` in the page, the
analyzer's ``observe`` for numba) with MetricsConfig's defaults: the median of
``--frames`` frames one step apart.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from resonance_engine.bench import median_seconds
from resonance_engine.cli.args import COUNT, POSITIVE, input_folder, integers
from resonance_engine.config import RunConfig, default_pond
from resonance_engine.errors import ConfigError

__all__ = ["add_arguments", "run", "node_modules_dir", "node_environment"]

#: Where the ``webgpu`` npm package may be installed (folder holding node_modules/webgpu).
NODE_MODULES_ENV = "RESONANCE_NODE_MODULES"
#: Chromium's SwiftShader Vulkan driver, which Dawn under Node can use.
SWIFTSHADER_ICD = Path("/usr/lib/chromium/vk_swiftshader_icd.json")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sizes", type=integers(low=16), default="128,256,512",
                   help="grid sides, comma-separated")
    p.add_argument("--seconds", type=POSITIVE, default=0.5, help="least length of one round (s)")
    p.add_argument("--repeats", type=COUNT, default=3, help="timed rounds per figure (median)")
    p.add_argument("--frames", type=COUNT, default=5,
                   help="timed frames of the measures per figure (median)")
    p.add_argument(
        "--node-modules",
        type=input_folder,
        metavar="DIR",
        help=f"node_modules folder holding the webgpu package (default ${NODE_MODULES_ENV})",
    )


def node_modules_dir(given: str | Path | None = None) -> Path | None:
    """The node_modules folder with the ``webgpu`` package, or None."""
    text = given or os.environ.get(NODE_MODULES_ENV)
    if not text:
        return None
    path = Path(text)
    return path if (path / "webgpu" / "index.js").is_file() else None


def node_environment() -> dict[str, str]:
    """The environment for Dawn under Node: SwiftShader's Vulkan driver unless one is set."""
    env = dict(os.environ)
    if "VK_ICD_FILENAMES" not in env and SWIFTSHADER_ICD.is_file():
        env["VK_ICD_FILENAMES"] = str(SWIFTSHADER_ICD)
    return env


def _numba(size: int, seconds: float, repeats: int, frames: int) -> tuple[float, float]:
    """Steps/s and ms per frame of the default measures of the numba backend."""
    from resonance_engine.metrics import ComplexityAnalyzer

    solver = default_pond(size).build()
    solver.step(10)  # compiled
    steps = 10
    start = time.perf_counter()
    solver.step(steps)
    once = max(time.perf_counter() - start, 1e-9)
    steps = max(10, int(steps * seconds / once))
    rate = steps / median_seconds(lambda: solver.step(steps), repeats, min_time=0)
    analyzer = ComplexityAnalyzer()
    analyzer.observe(solver)  # compiled
    times = []
    for _ in range(frames):
        solver.step(1)
        start = time.perf_counter()
        analyzer.observe(solver)
        times.append(time.perf_counter() - start)
    return rate, 1e3 * sorted(times)[len(times) // 2]


_IN_PAGE = """async ([config, seconds, repeats, frames]) => {
  const { stepsPerSecond } = await import("./engine/bench.js");
  return stepsPerSecond(window.resonance, config, seconds, repeats, frames);
}"""


def _browser(sizes: list[int], args: argparse.Namespace) -> dict[str, dict[int, Any]]:
    from playwright.sync_api import sync_playwright

    from resonance_engine.bench.serve import CHROMIUM_ARGS
    from resonance_engine.web.site import StaticServer, export_site, site_config

    chromium = shutil.which("chromium")
    if chromium is None:
        raise ConfigError(
            "bench browser needs Debian's chromium on PATH (apt-get install chromium)"
        )
    results: dict[str, dict[int, Any]] = {"webgpu": {}, "js-cpu": {}}
    with tempfile.TemporaryDirectory() as folder:
        export_site(folder, site_config(RunConfig(simulation=default_pond(64))))
        server = StaticServer(folder)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium, args=[*CHROMIUM_ARGS, "--enable-unsafe-webgpu"]
                )
                for name, engine in (("webgpu", "webgpu"), ("js-cpu", "cpu")):
                    page = browser.new_page()
                    page.goto(f"{server.url}index.html?engine={engine}&run=0")
                    for size in sizes:
                        config = default_pond(size).model_dump(mode="json")
                        results[name][size] = page.evaluate(
                            _IN_PAGE, [config, args.seconds, args.repeats, args.frames]
                        )
                    page.close()
                browser.close()
        finally:
            server.stop()
    return results


def _node(sizes: list[int], modules: Path, args: argparse.Namespace) -> dict[int, Any]:
    from resonance_engine.web.site import ENGINE_DIR

    node = shutil.which("node")
    if node is None:
        return {}
    out: dict[int, Any] = {}
    for size in sizes:
        config = json.dumps(default_pond(size).model_dump(mode="json"))
        done = subprocess.run(
            [node, str(ENGINE_DIR / "node.mjs"), str(modules), "bench", config,
             str(args.seconds), str(args.repeats), str(args.frames)],
            capture_output=True, text=True, env=node_environment(), timeout=600, check=False,
        )
        if done.returncode != 0:
            raise ConfigError(f"node with webgpu failed: {done.stderr.strip()[-300:]}")
        out[size] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = list(args.sizes)
    measured = _browser(sizes, args)
    modules = node_modules_dir(args.node_modules)
    if modules is not None:
        measured["node-webgpu"] = _node(sizes, modules, args)
    summary: dict[str, Any] = {"load": os.getloadavg()[0]}
    for size in sizes:
        base, frame_ms = _numba(size, args.seconds, args.repeats, args.frames)
        summary[f"{size}^2 numba steps/s"] = base
        summary[f"{size}^2 numba metrics ms"] = frame_ms
        for name, per_size in measured.items():
            if size in per_size:
                rate = per_size[size]["steps_per_s"]
                summary[f"{size}^2 {name} steps/s"] = rate
                summary[f"{size}^2 {name} / numba"] = rate / base
                if "metrics_ms" in per_size[size]:
                    summary[f"{size}^2 {name} metrics ms"] = per_size[size]["metrics_ms"]
    for name, per_size in measured.items():
        if per_size:
            summary[f"{name} adapter"] = next(iter(per_size.values()))["adapter"]
    if modules is None:
        summary["node-webgpu"] = f"not measured (set {NODE_MODULES_ENV} or --node-modules)"
    return summary
