"""Browser engine vs the numpy backend: how close, measured (numbers for the README).

The configuration of ``tests/web/test_browser_engine.py`` (the default pond at 128x128,
200 steps, measured every 10 steps) for WebGPU and the JavaScript fallback in headless
chromium, with absorbing, periodic and fixed edges: the largest field difference relative
to the field's maximum, and the largest relative difference of D, G, C, tau and CI over
the 20 frames. The controls: numpy runs with the damping changed by 0.1 % and 1 %
(0.1 -> 0.1001, 0.101), compared the same way; an agreement figure says "the same
simulation" only where it is well below a control's.

    nice python benchmarks/browser_agreement.py
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any

import numpy as np
from playwright.sync_api import sync_playwright

from resonance_engine.bench.serve import CHROMIUM_ARGS
from resonance_engine.config import RunConfig, SimulationConfig, default_pond
from resonance_engine.metrics import ComplexityAnalyzer, MetricsConfig
from resonance_engine.web.site import StaticServer, export_site, site_config

STEPS, EVERY = 200, 10
MEASURES = ("fractal_dim", "gain", "coherence", "dwell", "ci")
RUN_IN_PAGE = """async ([config, steps, every]) => {
  const r = window.resonance;
  await r.configure(config);
  const series = [];
  for (let done = 0; done < steps; done += every) {
    await r.step(every);
    series.push(await r.metrics());
  }
  return { u: Array.from(await r.field()), series };
}"""


def _config(boundary: str, damping: float = 0.1) -> dict[str, Any]:
    config = default_pond(128)
    config.boundary = boundary  # type: ignore[assignment]
    config.damping = damping
    metrics = MetricsConfig().model_dump(mode="json", exclude={"backend"})
    return {**config.model_dump(mode="json"), "metrics": metrics}


def _numpy(config: dict[str, Any]) -> tuple[np.ndarray, list[dict[str, float]]]:
    sim = {k: v for k, v in config.items() if k != "metrics"}
    solver = SimulationConfig(**{**sim, "backend": "numpy"}).build()
    analyzer = ComplexityAnalyzer(MetricsConfig(**{**config["metrics"], "backend": "numpy"}))
    series = []
    for _ in range(STEPS // EVERY):
        solver.step(EVERY)
        m = analyzer.observe(solver)
        series.append({k: float(getattr(m, k)) for k in MEASURES})
    return np.array(solver.u, dtype=np.float64), series


def _compare(u: np.ndarray, series: list[dict], ref_u: np.ndarray, ref: list[dict]) -> dict:
    field = float(np.max(np.abs(u - ref_u)) / np.max(np.abs(ref_u)))
    rel = max(abs(a[k] - b[k]) / max(abs(b[k]), 1e-300)
              for a, b in zip(series, ref, strict=True) for k in MEASURES)
    return {"field_max_rel": field, "measures_max_rel": float(rel)}


def main() -> None:
    out: dict[str, Any] = {"load before": os.getloadavg()[0]}
    refs = {b: _numpy(_config(b)) for b in ("absorbing", "periodic", "fixed")}
    for b, (ref_u, ref) in refs.items():
        for label, damping in (("0.1%", 0.1001), ("1%", 0.101)):
            out[f"control numpy damping+{label} {b}"] = _compare(
                *_numpy(_config(b, damping)), ref_u, ref
            )
    with tempfile.TemporaryDirectory() as folder:
        export_site(folder, site_config(RunConfig(simulation=default_pond(64))))
        server = StaticServer(folder)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=shutil.which("chromium"),
                                             args=[*CHROMIUM_ARGS, "--enable-unsafe-webgpu"])
                for engine in ("webgpu", "cpu"):
                    page = browser.new_page()
                    page.goto(f"{server.url}index.html?engine={engine}&run=0")
                    page.evaluate("async () => { await window.resonance.ready; }")
                    for b, (ref_u, ref) in refs.items():
                        got = page.evaluate(RUN_IN_PAGE, [_config(b), STEPS, EVERY])
                        u = np.array(got["u"], dtype=np.float64).reshape(ref_u.shape)
                        out[f"{engine} {b}"] = _compare(u, got["series"], ref_u, ref)
                    page.close()
                browser.close()
        finally:
            server.stop()
    out["load after"] = os.getloadavg()[0]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
