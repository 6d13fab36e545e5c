"""The browser engine (web/engine) in headless chromium: WebGPU and the JavaScript CPU
fallback against the numpy backend, refused configurations, and the exported site on a
plain static file server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from resonance_engine.config import RunConfig, SimulationConfig, default_pond
from resonance_engine.errors import ResonanceError
from resonance_engine.field.solver import WaveSolver2D
from resonance_engine.metrics import ComplexityAnalyzer, MetricsConfig
from resonance_engine.web.site import StaticServer, export_site, site_config

from .conftest import chromium_path, require
from .test_browser import CHROMIUM_ARGS

sync_api = require("playwright.sync_api")

#: WebGPU on chromium's software adapter (SwiftShader) needs this flag headless.
WEBGPU_ARGS = [*CHROMIUM_ARGS, "--enable-unsafe-webgpu"]
STEPS = 200
MEASURE_EVERY = 10
#: What the JS gives back, in the names of ComplexityMetrics.
MEASURES = ("fractal_dim", "gain", "coherence", "dwell", "ci")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaticServer]:
    root = tmp_path_factory.mktemp("site")
    export_site(root, site_config(RunConfig(simulation=default_pond(64), metrics_every=10)))
    server = StaticServer(root)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=WEBGPU_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def engine_page(browser: Any, site: StaticServer) -> Iterator[Any]:
    """Opens the site with the run held (?run=0); fails on any JavaScript error."""
    opened: list[tuple[Any, list[str]]] = []

    def open_(engine: str) -> Any:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        opened.append((page, errors))
        page.goto(f"{site.url}index.html?engine={engine}&run=0")
        backend = page.evaluate(
            "async () => { await window.resonance.ready; return window.resonance.backend; }"
        )
        assert backend == engine, f"asked for {engine}, the page runs {backend}"
        return page

    yield open_
    for page, errors in opened:
        page.close()
        assert errors == [], errors


RUN_IN_PAGE = """async ([config, steps, every]) => {
  const r = window.resonance;
  await r.configure(config);
  const series = [];
  for (let done = 0; done < steps; done += every) {
    await r.step(every);
    series.push(await r.metrics());
  }
  const u = await r.field();
  return { u: Array.from(u), series, t: r.t, stepCount: r.stepCount };
}"""


def _metrics(**overrides: Any) -> dict[str, Any]:
    """MetricsConfig's JSON (the defaults with overrides), as the page gets it."""
    return MetricsConfig(**overrides).model_dump(mode="json", exclude={"backend"})


#: The seed's forms (what the WGSL shaders compute) next to the defaults, where the
#: metrics layer has both.
FORMS = {"default": _metrics()}
if hasattr(MetricsConfig, "blueprint"):
    FORMS["blueprint"] = MetricsConfig.blueprint().model_dump(mode="json", exclude={"backend"})
#: Other settings of the measures, each against numpy on a smaller pond.
VARIANTS = [
    {"fractal_mode": "boundary", "coherence_normalize": "bounded", "dwell_storage": "float"},
    {"threshold": 0.05, "gain_window": 3, "coherence_sigma": 1.0, "dwell_history": 4},
]
if "box_base" in MetricsConfig.model_fields:
    VARIANTS += [
        {"box_base": 3, "coherence_normalize": "relative", "gain_scale": "fixed",
         "gain_reference": 0.5},
        {"fractal_offsets": "none", "coherence_edge": "renormalize", "dwell_mode": "ring",
         "coherence_normalize": "frame"},
    ]


def _pond(boundary: str, size: int = 128, metrics: dict[str, Any] | None = None) -> dict:
    config = default_pond(size)
    config.boundary = boundary  # type: ignore[assignment]
    return {**config.model_dump(mode="json"), "metrics": metrics or FORMS["default"]}


def _numpy_run(config: dict[str, Any], steps: int = STEPS) -> tuple[np.ndarray, list[Any], float]:
    simulation = {k: v for k, v in config.items() if k != "metrics"}
    solver = SimulationConfig(**{**simulation, "backend": "numpy"}).build()
    analyzer = ComplexityAnalyzer(
        MetricsConfig(**{**config.get("metrics", {}), "backend": "numpy"})
    )
    series = []
    for _ in range(steps // MEASURE_EVERY):
        solver.step(MEASURE_EVERY)
        series.append(analyzer.observe(solver))
    return np.array(solver.u, dtype=np.float64), series, solver.t


def _check_series(got: list[dict[str, Any]], series: list[Any]) -> None:
    """Every measured frame within a relative 1e-3 (so the dwell's state is checked too)."""
    assert series[-1].dwell > 0 and series[-1].ci > 0  # past frames were used
    for js, ref in zip(got, series, strict=True):
        for name in MEASURES:
            value = getattr(ref, name)
            assert js[name] == pytest.approx(value, rel=1e-3, abs=1e-6 * abs(value) + 1e-12), (
                name, js, ref,
            )


@pytest.mark.parametrize("engine", ["webgpu", "cpu"])
@pytest.mark.parametrize("boundary", ["absorbing", "periodic", "fixed"])
@pytest.mark.parametrize("form", sorted(FORMS))
def test_engine_matches_the_numpy_backend(
    engine_page, engine: str, boundary: str, form: str
) -> None:
    """The field and every measured frame, with the default (calibrated) measures and
    the seed's forms of MetricsConfig.blueprint()."""
    config = _pond(boundary, metrics=FORMS[form])
    page = engine_page(engine)
    got = page.evaluate(RUN_IN_PAGE, [config, STEPS, MEASURE_EVERY])
    expected, series, t = _numpy_run(config)
    u = np.array(got["u"], dtype=np.float64).reshape(expected.shape)
    peak = np.abs(expected).max()
    assert peak > 1e-3  # the sources have filled the pond
    assert np.abs(u - expected).max() < 1e-4 * peak
    assert got["stepCount"] == STEPS and got["t"] == pytest.approx(t, rel=1e-12)
    _check_series(got["series"], series)


def _largest_differences(
    u: np.ndarray, got: list[Any], expected: np.ndarray, series: list[Any]
) -> tuple[float, float]:
    """Largest field difference over the field's peak, largest relative measure difference."""
    field = float(np.abs(u - expected).max() / np.abs(expected).max())
    measures = max(
        abs(_value(a, name) - getattr(b, name)) / max(abs(getattr(b, name)), 1e-12)
        for a, b in zip(got, series, strict=True) for name in MEASURES
    )
    return field, measures


def _value(frame: Any, name: str) -> float:
    return float(frame[name] if isinstance(frame, dict) else getattr(frame, name))


@pytest.mark.parametrize("engine", ["webgpu", "cpu"])
def test_agreement_is_fifty_times_tighter_than_a_one_percent_damping_error(
    engine_page, engine: str
) -> None:
    """The control: numpy with the damping 1 % off (0.1 -> 0.101) differs from numpy by
    1.1e-4 (field) and 3.7e-4 (measures); measured here: WebGPU 5.8e-7 and 4.8e-7, the
    JS fallback 5.7e-7 and 1.0e-6 (benchmarks/browser_agreement.py). An engine off by a
    fiftieth of that control fails: so did the JS fallback while its stencil computed in
    float64 (7.3e-6 and 2.3e-5)."""
    config = _pond("absorbing")
    page = engine_page(engine)
    got = page.evaluate(RUN_IN_PAGE, [config, STEPS, MEASURE_EVERY])
    expected, series, _ = _numpy_run(config)
    u = np.array(got["u"], dtype=np.float64).reshape(expected.shape)
    off_u, off_series, _ = _numpy_run({**config, "damping": config["damping"] * 1.01})
    control = _largest_differences(off_u, off_series, expected, series)
    engine_diff = _largest_differences(u, got["series"], expected, series)
    assert control[0] > 5e-5 and control[1] > 1e-4  # the control is visible at all
    assert engine_diff[0] < control[0] / 50, (engine_diff, control)
    assert engine_diff[1] < control[1] / 50, (engine_diff, control)


#: The bytes metrics() copies from the GPU per frame: the scalars of its kernels.
READ_BACK = """async ([config, frames]) => {
  const r = window.resonance;
  await r.configure(config);
  const engine = r.engine;
  const bytes = [];
  for (let k = 0; k < frames; k++) {
    await r.step(10);
    const before = engine.readBytes;
    await r.metrics();
    bytes.push(engine.readBytes - before);
  }
  return { bytes, frame: 4 * config.nx * config.ny, own: engine.measureKernels() === engine };
}"""


@pytest.mark.parametrize("form", sorted(FORMS))
def test_webgpu_measures_read_back_scalars_only(engine_page, form: str) -> None:
    """Every form runs in the shaders: a frame's measures copy per-workgroup partial sums
    and box counts to the host (1.8-2.2 KB at 128x128), never the 64 KB frame, which a
    fallback to the CPU kernels would read."""
    page = engine_page("webgpu")
    got = page.evaluate(READ_BACK, [_pond("absorbing", metrics=FORMS[form]), 5])
    assert got["own"]
    assert all(0 < b < got["frame"] / 4 for b in got["bytes"]), got


@pytest.mark.parametrize("engine", ["webgpu", "cpu"])
@pytest.mark.parametrize(("base", "boundary"), [(2, False), (2, True), (3, False), (3, True)])
def test_box_counts_over_shifted_grids_match_numpy(
    engine_page, engine: str, base: int, boundary: bool
) -> None:
    """The counts of D over shifted grids (the tight-grid mean) on sets that do not line
    up with the boxes: a shifted carpet and a random Cantor set on a 150x170 grid."""
    from resonance_engine.backends.numpy_ref.metrics import shifted_box_counts

    ny, nx, levels = 150, 170, (5 if base == 2 else 3)
    rng = np.random.default_rng(7)
    u = rng.normal(0, 0.3, (ny, nx)).astype(np.float32)
    carpet = np.ones((1, 1), dtype=bool)
    for _ in range(4):
        carpet = np.kron(carpet, rng.random((3, 3)) < 0.6)
    u[11:11 + 81, 23:23 + 81] += 3 * carpet
    page = engine_page(engine)
    config = {**default_pond(16).model_dump(mode="json"), "nx": nx, "ny": ny,
              "dx": 1 / (nx - 1), "dy": 1 / (ny - 1)}
    got = page.evaluate(
        """async ([config, u, levels, boundary, base]) => {
             const r = window.resonance;
             await r.configure(config);
             const e = r.engine, data = Float32Array.from(u);
             if (e.kind === "webgpu") e.device.queue.writeBuffer(e.current, 0, data);
             else e.cur.set(data);
             const k = e.measureKernels();
             return [await k.boxCounts(1.5, levels, boundary, base, true),
                     await k.boxCounts(1.5, levels, boundary, base, false)];
           }""",
        [config, u.ravel().tolist(), levels, boundary, base],
    )
    for shifted, counts in zip((True, False), got, strict=True):
        expected = shifted_box_counts(u[None], np.array([1.5]), levels, boundary, base, shifted)
        np.testing.assert_allclose(counts, expected[0], rtol=1e-12)
    assert got[0] != got[1]  # the shifts change the counts


def test_box_grid_helpers_are_those_of_box_grid_py(engine_page) -> None:
    from resonance_engine.backends import box_grid

    cases = [(lo, hi, size, size // box_grid.shift_factor(size, base), base)
             for base in (2, 3) for size in ([4, 8, 16, 32, 64] if base == 2 else [3, 9, 27])
             for lo, hi in [(0, 0), (30, 272), (5, 6), (17, 100), (1, size * 3 - 1)]]
    page = engine_page("cpu")
    got = page.evaluate(
        """async (cases) => { const m = await import('./engine/measures.js');
             return cases.map(([lo, hi, size, step, base]) =>
               [m.tightShifts(lo, hi, size, step), m.shiftFactor(size, base)]); }""",
        cases,
    )
    assert got == [[box_grid.tight_shifts(lo, hi, size, step).tolist(),
                    box_grid.shift_factor(size, base)] for lo, hi, size, step, base in cases]


@pytest.mark.parametrize("engine", ["webgpu", "cpu"])
@pytest.mark.parametrize("overrides", VARIANTS, ids=lambda o: ",".join(o))
def test_measure_settings_match_the_numpy_backend(
    engine_page, engine: str, overrides: dict[str, Any]
) -> None:
    config = _pond("absorbing", size=64, metrics=_metrics(**overrides))
    page = engine_page(engine)
    got = page.evaluate(RUN_IN_PAGE, [config, 120, MEASURE_EVERY])
    _, series, _ = _numpy_run(config, steps=120)
    _check_series(got["series"], series)


@pytest.mark.parametrize("engine", ["webgpu", "cpu"])
@pytest.mark.parametrize(("feedback", "strength"), [("cubic", 30000.0), ("tanh", 100.0)])
def test_feedback_matches_the_numpy_backend(
    engine_page, engine: str, feedback: str, strength: float
) -> None:
    config = {**_pond("absorbing"), "feedback": feedback, "feedback_strength": strength}
    page = engine_page(engine)
    got = page.evaluate(RUN_IN_PAGE, [config, STEPS, STEPS])
    expected, _, _ = _numpy_run(config)
    linear, _, _ = _numpy_run(_pond("absorbing"))
    peak = np.abs(expected).max()
    assert np.abs(expected - linear).max() > 0.05 * peak  # the feedback term matters
    u = np.array(got["u"]).reshape(expected.shape)
    assert np.abs(u - expected).max() < 1e-4 * peak


@pytest.mark.parametrize("engine", ["webgpu", "cpu"])
def test_a_grid_too_small_to_measure_gives_the_python_message(engine_page, engine: str) -> None:
    from resonance_engine.errors import MetricError

    config = default_pond(16).model_dump(mode="json")
    config.update(nx=12, ny=12)
    solver = SimulationConfig(**config).build()
    with pytest.raises(MetricError) as python_error:
        ComplexityAnalyzer().observe(solver)
    page = engine_page(engine)
    message = page.evaluate(
        "async (c) => { await window.resonance.configure(c); await window.resonance.step(3);"
        " try { await window.resonance.metrics(); return null; } catch (e) { return e.message; } }",
        config,
    )
    assert message == str(python_error.value)


def test_numbers_in_messages_are_formatted_as_python_does(engine_page) -> None:
    values = [0.0, -0.0, 1.0, 2.5, 1e-5, 1.234567e-4, 0.1 + 0.2, 123456.0, 1234567.0, 1e16,
              3.0e21, -7.25e-12, 0.8 * 0.0055680, 1 / 3, float(np.float32(0.1))]
    page = engine_page("cpu")
    got = page.evaluate(
        """async (values) => { const p = await import('./engine/physics.js');
             return values.map((v) => [p.pyFloat(v), p.formatG(v, 4), p.formatG(v, 6)]); }""",
        values,
    )
    assert got == [[repr(v), f"{v:.4g}", f"{v:.6g}"] for v in values]


@pytest.mark.parametrize("engine", ["webgpu", "cpu"])
@pytest.mark.parametrize(
    "change",
    [
        {"dt": 0.01},  # above the CFL limit of dx = 1/127
        {"nx": 2},
        {"boundary": "open"},
        {"courant": 1.5},
        {"damping": -0.5},
        {"dx": 0.0},
        {"feedback": "quadratic"},
    ],
)
def test_refused_configurations_give_the_python_message(
    engine_page, engine: str, change: dict[str, Any]
) -> None:
    config = {**_pond("absorbing"), **change}
    with pytest.raises(ResonanceError) as python_error:
        WaveSolver2D(**{k: v for k, v in config.items() if k not in ("sources", "metrics")})
    page = engine_page(engine)
    message = page.evaluate(
        "async (c) => { try { await window.resonance.configure(c); return null; }"
        " catch (e) { return e.message; } }",
        config,
    )
    assert message == str(python_error.value)


def test_a_source_outside_the_grid_gives_the_python_message(engine_page) -> None:
    config = _pond("absorbing")
    config["sources"][0]["x"] = 2.5
    with pytest.raises(ResonanceError) as python_error:
        SimulationConfig(**{k: v for k, v in config.items() if k != "metrics"}).build()
    page = engine_page("cpu")
    message = page.evaluate(
        "async (c) => { try { await window.resonance.configure(c); return null; }"
        " catch (e) { return e.message; } }",
        config,
    )
    assert message == str(python_error.value)


def test_auto_takes_webgpu_on_hardware_only(browser: Any, site: StaticServer) -> None:
    """"auto" skips a software adapter (info.isFallbackAdapter, SwiftShader here) and says
    why; "webgpu" takes it. The same page with the adapter reported as hardware runs WebGPU."""
    page = browser.new_page()
    try:
        page.goto(f"{site.url}index.html?run=0")
        got = page.evaluate(
            """async () => { const r = window.resonance; await r.ready;
                 const a = await navigator.gpu.requestAdapter();
                 return [r.backend, r.fallbackReason, a.info.isFallbackAdapter]; }"""
        )
        assert got == ["cpu", "no hardware WebGPU adapter", True]
        page.add_init_script(
            """const request = GPU.prototype.requestAdapter;
               GPU.prototype.requestAdapter = async function (options) {
                 const adapter = await request.call(this, options);
                 Object.defineProperty(adapter, "info", {
                   value: { ...adapter.info, isFallbackAdapter: false, vendor: adapter.info.vendor,
                            architecture: adapter.info.architecture } });
                 return adapter; };"""
        )
        page.goto(f"{site.url}index.html?run=0")
        backend = page.evaluate(
            "async () => { await window.resonance.ready; return window.resonance.backend; }"
        )
        assert backend == "webgpu"
    finally:
        page.close()


def test_exported_site_runs_from_a_static_server(browser: Any, tmp_path: Path) -> None:
    root = tmp_path / "site"
    config = RunConfig(simulation=default_pond(96), metrics_every=20)
    export_site(root, site_config(config))
    assert json.loads((root / "config.json").read_text())["simulation"]["nx"] == 96
    server = StaticServer(root)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(server.url)
        page.wait_for_selector('#conn[data-state="live"]')
        # chromium's only adapter here is SwiftShader: "auto" takes the faster CPU engine
        assert page.get_attribute("body", "data-backend") == "cpu"
        page.wait_for_function("+document.querySelector('#field').dataset.frames >= 5")
        page.wait_for_function(
            "[...document.querySelectorAll('#charts canvas')].every(c => +c.dataset.total >= 3)"
        )
        assert page.text_content("#mode") == "browser"
        titles = page.eval_on_selector_all(
            "#charts figcaption span:first-child", "spans => spans.map(s => s.textContent)"
        )
        assert titles == ["D", "G", "C", "tau", "CI"]
        # the heatmap shows the field: many distinct colours, not a blank canvas
        colours = page.evaluate(
            """() => { const c = document.querySelector('#field');
                 const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                 const seen = new Set();
                 for (let i = 0; i < d.length; i += 4) seen.add(d[i] << 16 | d[i+1] << 8 | d[i+2]);
                 return seen.size; }"""
        )
        assert colours > 50
        page.locator("#field").screenshot(path=str(tmp_path / "field.png"))
        # a control refused with the engine's message, then one applied
        page.fill("#wave_speed", "50")
        page.click("#form-wave_speed button[type=submit]")
        refused = page.wait_for_selector("#message.error").text_content()
        assert "largest stable wave speed" in refused
        page.fill("#damping", "0.5")
        page.click("#form-damping button[type=submit]")
        page.wait_for_selector("#message.ok")
        assert page.evaluate("window.resonance.simulation.damping") == 0.5
    finally:
        page.close()
        server.stop()
    assert errors == [], errors


def test_served_page_runs_in_the_browser_and_the_server_stores_its_metrics(
    browser: Any, tmp_path: Path
) -> None:
    from resonance_engine.store import AgentDB, RunRecorder
    from resonance_engine.web.server import Dashboard
    from resonance_engine.web.site_app import create_site_app

    site = site_config(RunConfig(simulation=default_pond(64), metrics_every=10))
    db = AgentDB(tmp_path / "runs.db")
    recorder = RunRecorder.start(db, site, 0, name="serve-browser")
    app = create_site_app(site, recorder=recorder, token="letmein")
    dash = Dashboard(None, token="letmein", app=app)
    page = browser.new_page()
    try:
        url = dash.start("127.0.0.1", 0)
        assert page.goto(url.replace("letmein", "wrong")).status == 401
        page.goto(url)
        page.wait_for_selector('#conn[data-state="live"]')
        page.wait_for_function("+document.querySelector('#step').textContent >= 100")
        # rows go out about twice a second; wait until some have been stored
        deadline = 200
        while app.state.stored["frames"] < 3 and deadline:
            page.wait_for_timeout(100)
            deadline -= 1
        assert app.state.stored["frames"] >= 3
        bad = page.evaluate(
            "async () => (await fetch('api/metrics?token=letmein', {method: 'POST',"
            " body: JSON.stringify({series: ['D'], rows: []})})).status"
        )
        assert bad == 400
    finally:
        page.close()
        dash.stop()
        recorder.close("finished")
    ci = db.series_id(recorder.run_id, "ci")
    assert db.count(ci) >= 3
    db.close()


def test_node_runs_the_same_module_with_dawn() -> None:
    """Under Node with the webgpu npm package (Dawn on SwiftShader's Vulkan driver): the
    same field as the numpy backend. .ci/run installs the package; elsewhere set
    RESONANCE_NODE_MODULES to a node_modules folder holding it."""
    import os
    import shutil
    import subprocess

    from resonance_engine.bench.browser import node_environment, node_modules_dir
    from resonance_engine.web.site import ENGINE_DIR

    modules, node = node_modules_dir(), shutil.which("node")
    if modules is None or node is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node and the webgpu npm package are missing (.ci/run installs them)")
        pytest.skip("node or the webgpu npm package is missing (set RESONANCE_NODE_MODULES)")
    config = _pond("absorbing")
    done = subprocess.run(
        [node, str(ENGINE_DIR / "node.mjs"), str(modules), "run", json.dumps(config),
         str(STEPS), str(MEASURE_EVERY)],
        capture_output=True, text=True, env=node_environment(), timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["backend"] == "webgpu"
    expected, series, _ = _numpy_run(config)
    u = np.array(got["u"]).reshape(expected.shape)
    assert np.abs(u - expected).max() < 1e-4 * np.abs(expected).max()
    for name in MEASURES:
        assert got["series"][-1][name] == pytest.approx(getattr(series[-1], name), rel=1e-3)


def test_defaults_are_those_of_the_python_configs(engine_page) -> None:
    """A key left out of configure() means what it means in SimulationConfig/MetricsConfig."""
    page = engine_page("cpu")
    js = page.evaluate(
        """async () => [(await import('./engine/physics.js')).SIMULATION_DEFAULTS,
                        (await import('./engine/measures.js')).METRICS_DEFAULTS]"""
    )
    assert js[0] == SimulationConfig().model_dump(mode="json")
    metrics = MetricsConfig().model_dump(mode="json")
    # min_box None means the base (2 or 3); MetricsConfig says so in one of both ways
    smallest = {k: (d.get("min_box") or d.get("box_base", 2)) for k, d in (("js", js[1]),
                                                                           ("py", metrics))}
    assert smallest["js"] == smallest["py"]
    assert {k: js[1][k] for k in metrics if k != "min_box"} == {
        k: v for k, v in metrics.items() if k != "min_box"
    }


def test_serve_engine_browser_command_serves_the_package_files(tmp_path: Path) -> None:
    import urllib.request

    from resonance_engine.web.site import SHADER_DIR

    from .test_cli_serve import start_serve, stop

    process, url = start_serve(tmp_path, "--engine", "browser", "--json", "--db",
                               str(tmp_path / "runs.db"))
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            assert b'src="engine/page.js"' in response.read()
        with urllib.request.urlopen(url + "config.json", timeout=10) as response:
            site = json.loads(response.read())
        assert site["simulation"]["nx"] == 32 and site["store"] == "api/metrics"
        with urllib.request.urlopen(url + "shaders/leapfrog.wgsl", timeout=10) as response:
            assert response.read() == (SHADER_DIR / "leapfrog.wgsl").read_bytes()
    finally:
        out, _ = stop(process)
    summary = json.loads(out)
    assert summary["grid"] == "32x32" and summary["frames_stored"] == 0
    assert summary["run_id"] is not None
