"""``resonance experiment measures``: what each measure responds to.

Runs D, C, G, tau (the calibrated defaults beside the seed's forms of
:meth:`MetricsConfig.blueprint`) and the structure factor S(q) on reference fields --
plane waves, two and three interfering plane waves, white noise, a smooth random field
with a power-law spectrum, a Sierpinski carpet, a Gaussian pulse and the default pond at
several times -- and sweeps the threshold, the box range, the measuring interval, the
amplitude, the grid size and the boundary. The report states, from the numbers, what
each measure separates (between-field differences over the within-field spread: the
effect size) and what it follows (its change over a sweep of a setting), and whether
"D between 1.5 and 1.8 indicates rich structure" holds for these fields.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resonance_engine.errors import MetricError
from resonance_engine.loop import RunLoop
from resonance_engine.metrics.analyzer import ComplexityAnalyzer, ComplexityMetrics
from resonance_engine.metrics.coherence import coherence_field
from resonance_engine.metrics.config import MetricsConfig
from resonance_engine.metrics.fractal import fractal_dimension
from resonance_engine.metrics.spectral import structure_factor
from resonance_engine.metrics.tracker import MeasureTracker

__all__ = ["MeasuresExperimentConfig", "reference_fields", "run_measures_experiment"]

#: The claim under test.
CLAIM_RANGE = (1.5, 1.8)
#: Fields a reader would call structured and rich (interference of several sources).
RICH = ("three waves", "pond")
#: Fields a reader would call simple.
SIMPLE = ("plane wave", "white noise", "gaussian pulse", "smooth power-law")


@dataclass(frozen=True)
class MeasuresExperimentConfig:
    """Sizes of the experiment.

    Attributes
    ----------
    size : int
        Cells per side of the reference fields and the pond (default 256).
    seeds : int
        Realisations of each reference field (phases, directions, noise; default 3).
    pond_steps : tuple of int
        Solver steps at which the pond is measured (default 600, 1200, 2400).
    seed : int
        First random seed.
    """

    size: int = 256
    seeds: int = 3
    pond_steps: tuple[int, ...] = (600, 1200, 2400)
    seed: int = 0


def _plane(n: int, k: float, angle: float, phase: float) -> np.ndarray:
    y, x = np.mgrid[0:n, 0:n].astype(np.float64)
    return np.cos(k * (np.cos(angle) * x + np.sin(angle) * y) + phase)


def _carpet(n: int) -> np.ndarray:
    y, x = np.mgrid[0:n, 0:n]
    fx, fy = (x + 0.5) / n, (y + 0.5) / n
    keep = np.ones((n, n), dtype=bool)
    for _ in range(int(math.log(n) / math.log(3))):
        fx, fy = fx * 3, fy * 3
        keep &= ~((np.floor(fx) % 3 == 1) & (np.floor(fy) % 3 == 1))
    return keep.astype(np.float64)


def _power_law(n: int, beta: float, rng: np.random.Generator) -> np.ndarray:
    """A Gaussian random field with S(q) ~ q^-beta."""
    kx = np.fft.fftfreq(n)
    q = np.hypot(kx[:, None], kx[None, :])
    q[0, 0] = 1.0
    amp = q ** (-beta / 2)
    amp[0, 0] = 0.0
    field = np.real(np.fft.ifft2(amp * np.fft.fft2(rng.normal(size=(n, n)))))
    result: np.ndarray = field / field.std()
    return result


def reference_fields(
    n: int, rng: np.random.Generator, pond_steps: tuple[int, ...] = (), pond_seed: int = 0
) -> dict[str, np.ndarray]:
    """One realisation of every reference field, float32 (n, n), keyed by name."""
    k = 2 * np.pi / 16  # 16 cells per wavelength
    angles = rng.uniform(0, np.pi, 3)
    phases = rng.uniform(0, 2 * np.pi, 3)
    y, x = np.mgrid[0:n, 0:n].astype(np.float64)
    c = (n - 1) / 2 + rng.uniform(-n / 16, n / 16, 2)
    fields = {
        "plane wave": _plane(n, k, angles[0], phases[0]),
        "two waves": _plane(n, k, angles[0], phases[0]) + _plane(n, k, angles[1], phases[1]),
        "three waves": sum(_plane(n, k, angles[i], phases[i]) for i in range(3)),
        "white noise": rng.normal(size=(n, n)),
        "smooth power-law": _power_law(n, 3.0, rng),
        "gaussian pulse": np.exp(-((x - c[1]) ** 2 + (y - c[0]) ** 2) / (2 * (n / 12) ** 2)),
        "carpet": _carpet(n),
    }
    if pond_steps:
        from resonance_engine.config import default_pond

        solver = default_pond(n, seed=pond_seed).build()
        done = 0
        for steps in pond_steps:
            solver.step(steps - done)
            done = steps
            fields[f"pond t={solver.t:.2f}s"] = np.array(solver.u, dtype=np.float64)
    return {name: np.ascontiguousarray(f, dtype=np.float32) for name, f in fields.items()}


def _frame_measures(u: np.ndarray, config: MetricsConfig) -> dict[str, Any]:
    """D, its scaling flag, C, G of one frame (dwell needs a run: not here)."""
    m = ComplexityAnalyzer(config).update(u, t=0.0)
    assert isinstance(m, ComplexityMetrics)  # one field in, one result out
    return {
        "D": m.fractal_dim,
        "scaling": m.fractal_scaling,
        "C": m.coherence,
        "G": m.gain,
    }


def _d(u: np.ndarray, **options: Any) -> float:
    try:
        return fractal_dimension(u, **options).dimension
    except MetricError:
        return math.nan


def _effect(a: list[float], b: list[float]) -> float:
    """|mean a - mean b| over the pooled standard deviation (inf when both are exact)."""
    xa, xb = np.asarray(a, float), np.asarray(b, float)
    pooled = math.sqrt((xa.var(ddof=1) + xb.var(ddof=1)) / 2) if len(xa) > 1 else 0.0
    diff = abs(xa.mean() - xb.mean())
    return diff / pooled if pooled > 0 else (math.inf if diff > 0 else 0.0)


def _group(name: str) -> str:
    return "pond" if name.startswith("pond") else name


def run_measures_experiment(
    config: MeasuresExperimentConfig, out: Path, progress: Any = None
) -> dict[str, Any]:
    """Run the experiment, write report.md and the pictures into ``out``, return the numbers.

    ``progress(stage, done, total)`` is called as the stages advance (optional).
    """
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(config.seed)
    n = config.size
    say = progress or (lambda stage, done, total: None)
    forms = {"default": MetricsConfig(), "blueprint": MetricsConfig.blueprint()}

    # -- reference fields: several realisations of each ------------------------------
    per_field: dict[str, dict[str, list[Any]]] = {}
    spectra: dict[str, Any] = {}
    realisations = []
    for s in range(config.seeds):
        steps = config.pond_steps if s == 0 else ()
        realisations.append(reference_fields(n, rng, steps, pond_seed=config.seed))
        say("reference fields", s + 1, config.seeds)
    for fields in realisations:
        for name, u in fields.items():
            group = _group(name)
            row = per_field.setdefault(group, {})
            for form, cfg in forms.items():
                for key, value in _frame_measures(u, cfg).items():
                    row.setdefault(f"{key} {form}", []).append(value)
            sf = structure_factor(u)
            row.setdefault("peak q", []).append(sf.peak_q)
            spectra.setdefault(group, sf)
    table = {
        g: {k: float(np.nanmean([float(x) for x in v])) for k, v in row.items()}
        for g, row in per_field.items()
    }

    # -- sweeps on the pond (last frame) and the three-wave field -------------------
    pond_name = [k for k in realisations[0] if k.startswith("pond")]
    pond = realisations[0][pond_name[-1]] if pond_name else realisations[0]["three waves"]
    three = realisations[0]["three waves"]
    thresholds = (0.5, 1.0, 1.5, 2.0)
    sweep_threshold = {
        field_name: {
            form: [_d(u, threshold_rms=t, offsets="min" if form == "default" else "none")
                   for t in thresholds]
            for form in forms
        }
        for field_name, u in (("pond", pond), ("three waves", three))
    }
    say("sweeps", 1, 6)
    box_ranges = ((2, None), (4, None), (2, 16), (8, 64))
    sweep_box = {
        f"{lo}..{hi or 'n/4'}": _d(pond, min_box=lo, max_box=hi) for lo, hi in box_ranges
    }
    say("sweeps", 2, 6)
    amplitudes = (0.1, 1.0, 10.0)
    sweep_amplitude: dict[str, dict[str, list[float]]] = {}
    for form, cfg in forms.items():
        rows = [_frame_measures(pond * np.float32(a), cfg) for a in amplitudes]
        sweep_amplitude[form] = {key: [float(r[key]) for r in rows] for key in ("C", "G")}
    say("sweeps", 3, 6)
    sweep_interval = _interval_sweep(n, config.seed)
    say("sweeps", 4, 6)
    sweep_grid = _grid_sweep(n, config.seed)
    say("sweeps", 5, 6)
    sweep_boundary = _boundary_sweep(n, config.seed)
    say("sweeps", 6, 6)

    results: dict[str, Any] = {
        "config": {"size": n, "seeds": config.seeds, "pond_steps": list(config.pond_steps)},
        "fields": table,
        "per_field": {g: {k: [float(x) for x in v] for k, v in row.items()}
                      for g, row in per_field.items()},
        "sweeps": {
            "threshold_rms": {"values": list(thresholds), "D": sweep_threshold},
            "box_range": sweep_box,
            "amplitude": {"values": list(amplitudes), **sweep_amplitude},
            "interval": sweep_interval,
            "grid": sweep_grid,
            "boundary": sweep_boundary,
        },
    }
    results["verdicts"] = _verdicts(results)
    results["pictures"] = _pictures(out, spectra, realisations[0], sweep_threshold, thresholds)
    results["seconds"] = time.perf_counter() - start
    report = out / "report.md"
    report.write_text(_report(results), encoding="utf-8")
    results["report"] = str(report)
    return results


def _interval_sweep(n: int, seed: int) -> dict[str, Any]:
    """Mean tau of the same pond run (steps 400..1000) measured every 1, 2, 5, 10, 40 steps."""
    from resonance_engine.config import default_pond

    out: dict[str, Any] = {"every": [1, 2, 5, 10, 40]}
    for form in ("default", "blueprint"):
        taus, notes = [], []
        for every in out["every"]:
            solver = default_pond(n, seed=seed).build()
            solver.step(400)
            cfg = MetricsConfig() if form == "default" else MetricsConfig.blueprint()
            # the one run loop: a frame every `every` steps from step 400 to 1000
            measure = MeasureTracker(ComplexityAnalyzer(cfg), every)
            if RunLoop(solver, [measure], steps=1000 - solver.step_count).run().status == (
                "interrupted"
            ):
                raise KeyboardInterrupt
            series: list[ComplexityMetrics] = list(measure.history)
            late = [m.dwell for m in series[len(series) // 2 :]]
            taus.append(float(np.mean(late)))
            notes.append(any(m.note and "aliased" in m.note for m in series))
        out[form] = {"tau": taus, "aliased": notes}
        out["dt"] = float(solver.dt)
    return out


def _grid_sweep(n: int, seed: int) -> dict[str, Any]:
    """D and C of the default pond (same physical time) at n/2, n and 2n cells."""
    from resonance_engine.config import default_pond

    out: dict[str, Any] = {"size": [n // 2, n, 2 * n], "D": [], "C": [], "D blueprint": []}
    for size in out["size"]:
        solver = default_pond(size, seed=seed).build()
        solver.step(int(round(1.0 / solver.dt)))  # 1 s of simulated time
        u = np.array(solver.u, dtype=np.float32)
        out["D"].append(_d(u))
        out["D blueprint"].append(_d(u, offsets="none"))
        out["C"].append(float(coherence_field(u).mean()))
    return out


def _border_share(c: np.ndarray, band: int = 3) -> float:
    k = max(1, int(0.01 * c.size))
    iy, ix = np.unravel_index(np.argsort(c.ravel(), kind="stable")[-k:], c.shape)
    ny, nx = c.shape
    inside = (iy < band) | (iy >= ny - band) | (ix < band) | (ix >= nx - band)
    return float(inside.mean())


def _boundary_sweep(n: int, seed: int) -> dict[str, Any]:
    """D, C and the border share of the top 1 % of C for each boundary kind."""
    from resonance_engine.config import default_pond

    out: dict[str, Any] = {"area share": 1 - (n - 6) ** 2 / n**2}
    for boundary in ("absorbing", "fixed", "periodic"):
        cfg = default_pond(n, seed=seed).model_copy(update={"boundary": boundary})
        solver = cfg.build()
        shares, seed_shares, ds = [], [], []
        for _ in range(5):
            solver.step(300)
            u = np.array(solver.u, dtype=np.float32)
            shares.append(_border_share(coherence_field(u)))
            seed_shares.append(
                _border_share(coherence_field(u, normalize="frame", edge="renormalize"))
            )
            ds.append(_d(u))
        out[boundary] = {
            "border share": float(np.mean(shares)),
            "border share blueprint": float(np.mean(seed_shares)),
            "D": float(np.mean(ds)),
        }
    return out


def _verdicts(results: dict[str, Any]) -> dict[str, Any]:
    """The answers, computed from the numbers."""
    fields = results["per_field"]
    lo, hi = CLAIM_RANGE
    in_range = {}
    for form in ("default", "blueprint"):
        in_range[form] = sorted(
            g for g, row in fields.items()
            if lo <= float(np.nanmean(row[f"D {form}"])) <= hi
        )
    sweep = results["sweeps"]["threshold_rms"]["D"]
    d_rich = {g: float(np.nanmean(fields[g]["D default"])) for g in fields if g in RICH}
    d_simple = {g: float(np.nanmean(fields[g]["D default"])) for g in fields if g in SIMPLE}
    rich_ok = all(lo <= d <= hi for d in d_rich.values())
    simple_out = all(not lo <= d <= hi for d in d_simple.values())
    threshold_spread = {
        name: float(np.nanmax(v["default"]) - np.nanmin(v["default"])) for name, v in sweep.items()
    }
    claim_holds = bool(rich_ok and simple_out)
    effects: dict[str, dict[str, float]] = {}
    for key in ("D default", "C default", "D blueprint", "C blueprint"):
        effects[key] = {}
        for a, b in (("pond", "plane wave"), ("pond", "white noise"),
                     ("plane wave", "white noise"), ("three waves", "plane wave")):
            if a in fields and b in fields:
                effects[key][f"{a} vs {b}"] = _effect(fields[a][key], fields[b][key])
    interval = results["sweeps"]["interval"]
    resolved = [i for i, a in enumerate(interval["default"]["aliased"]) if not a]
    tau_default = [interval["default"]["tau"][i] for i in resolved]
    tau_seed = [interval["blueprint"]["tau"][i] for i in resolved]
    amp = results["sweeps"]["amplitude"]
    return {
        "claim_D_1.5_1.8_rich_structure_holds": claim_holds,
        "fields_in_range": in_range,
        "rich_fields_D": d_rich,
        "simple_fields_D": d_simple,
        "threshold_spread_of_D": threshold_spread,
        "effect_sizes": effects,
        "tau_spread_resolved_default": _rel_spread(tau_default),
        "tau_spread_resolved_blueprint": _rel_spread(tau_seed),
        "C_amplitude_spread_default": _rel_spread(amp["default"]["C"]),
        "C_amplitude_spread_blueprint": _rel_spread(amp["blueprint"]["C"]),
        "G_amplitude_spread_default": _rel_spread(amp["default"]["G"]),
        "G_amplitude_spread_blueprint": _rel_spread(amp["blueprint"]["G"]),
        "D_box_range_spread": _range(list(results["sweeps"]["box_range"].values())),
        "D_grid_spread": _range(results["sweeps"]["grid"]["D"]),
        "C_grid_spread": _range(results["sweeps"]["grid"]["C"]),
        "D_rich_simple_gap": _gap(d_rich, d_simple),
    }


def _range(values: list[float]) -> float:
    v = [x for x in values if math.isfinite(x)]
    return float(max(v) - min(v)) if v else math.nan


def _gap(rich: dict[str, float], simple: dict[str, float]) -> float:
    """The smallest |D_rich - D_simple| over the pairs (how far apart the groups are)."""
    pairs = [abs(a - b) for a in rich.values() for b in simple.values()]
    return float(min(pairs)) if pairs else math.nan


def _rel_spread(values: list[float]) -> float:
    """(max - min) / mean of positive values (NaN when there are fewer than two)."""
    v = np.asarray([x for x in values if math.isfinite(x)], float)
    if len(v) < 2 or v.mean() == 0:
        return math.nan
    return float((v.max() - v.min()) / abs(v.mean()))


def _pictures(
    out: Path,
    spectra: dict[str, Any],
    fields: dict[str, np.ndarray],
    sweep: dict[str, dict[str, list[float]]],
    thresholds: tuple[float, ...],
) -> list[str]:
    from matplotlib.figure import Figure

    names = []
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    for name, sf in spectra.items():
        keep = sf.q > 0
        ax.loglog(sf.q[keep], np.maximum(sf.S[keep], 1e-12), label=name, lw=1)
    ax.set_xlabel("q (rad / cell)")
    ax.set_ylabel("S(q)")
    ax.set_title("structure factor of the reference fields")
    ax.legend(fontsize=7)
    fig.savefig(out / "structure_factor.png", dpi=110)
    names.append("structure_factor.png")

    fig = Figure(figsize=(10, 4))
    shown = [k for k in fields if k in ("plane wave", "three waves", "white noise",
                                        "smooth power-law", "carpet")] + [
        k for k in fields if k.startswith("pond")][-1:]
    for i, name in enumerate(shown):
        ax = fig.add_subplot(1, len(shown), i + 1)
        ax.imshow(fields[name], cmap="RdBu_r")
        ax.set_title(name, fontsize=8)
        ax.set_axis_off()
    fig.savefig(out / "fields.png", dpi=90)
    names.append("fields.png")

    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    for field_name, forms in sweep.items():
        for form, values in forms.items():
            ax.plot(thresholds, values, marker="o", ls="-" if form == "default" else "--",
                    label=f"{field_name} ({form})")
    ax.axhspan(*CLAIM_RANGE, color="0.9")
    ax.set_xlabel("threshold / RMS")
    ax.set_ylabel("D")
    ax.set_title("D follows the threshold (grey: the claimed 1.5-1.8)")
    ax.legend(fontsize=7)
    fig.savefig(out / "d_vs_threshold.png", dpi=110)
    names.append("d_vs_threshold.png")
    return names


def _fmt(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, float):
        return "nan" if not math.isfinite(x) else f"{x:.3g}"
    return str(x)


def _report(r: dict[str, Any]) -> str:
    v = r["verdicts"]
    lo, hi = CLAIM_RANGE
    lines = [
        "# What the complexity measures respond to",
        "",
        f"Grid {r['config']['size']}^2, {r['config']['seeds']} realisations of each "
        f"reference field, the default pond measured at {len(r['config']['pond_steps'])} "
        f"times; calibrated defaults beside `MetricsConfig.blueprint()`. "
        f"Run time {r['seconds']:.0f} s.",
        "",
        "## Does D between 1.5 and 1.8 indicate rich structure?",
        "",
    ]
    holds = v["claim_D_1.5_1.8_rich_structure_holds"]
    rich = ", ".join(f"{k} {d:.2f}" for k, d in v["rich_fields_D"].items())
    simple = ", ".join(f"{k} {d:.2f}" for k, d in v["simple_fields_D"].items())
    spread = ", ".join(f"{k} {d:.2f}" for k, d in v["threshold_spread_of_D"].items())
    lines += [
        f"**{'Yes' if holds else 'No'}.** With the default forms the rich fields read D = "
        f"{rich}; the simple fields read {simple}. Fields inside {lo}-{hi}: "
        f"{', '.join(v['fields_in_range']['default']) or 'none'} (blueprint forms: "
        f"{', '.join(v['fields_in_range']['blueprint']) or 'none'}). Moving the threshold "
        f"from 0.5 to 2 x RMS moves D by {spread}, and the box range by "
        f"{v['D_box_range_spread']:.2f}, against a smallest gap of "
        f"{v['D_rich_simple_gap']:.2f} between a rich and a simple field"
        + (": the range marks these rich fields."
           if holds else ": the range says as much about the settings as about the field."),
        "",
        "## The reference fields",
        "",
        "| field | D | D scaling | C | G | D blueprint | C blueprint | G blueprint | peak q |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for g, row in r["fields"].items():
        lines.append(
            f"| {g} | {_fmt(row['D default'])} | {_fmt(row['scaling default'] > 0.5)} | "
            f"{_fmt(row['C default'])} | {_fmt(row['G default'])} | "
            f"{_fmt(row['D blueprint'])} | {_fmt(row['C blueprint'])} | "
            f"{_fmt(row['G blueprint'])} | {_fmt(row['peak q'])} |"
        )
    lines += ["", "Effect sizes (difference of means over the pooled standard deviation "
              "of the realisations; inf: the realisations do not vary):", ""]
    lines += ["| measure | " + " | ".join(next(iter(v["effect_sizes"].values())).keys()) + " |",
              "|---" * (1 + len(next(iter(v["effect_sizes"].values())))) + "|"]
    for key, row in v["effect_sizes"].items():
        lines.append(f"| {key} | " + " | ".join(_fmt(x) for x in row.values()) + " |")
    sw = r["sweeps"]
    thr = sw["threshold_rms"]
    lines += ["", "## Sweeps", "", "### Threshold (D)", "",
              "| field, form | " + " | ".join(f"{t} x RMS" for t in thr["values"]) + " |",
              "|---" * (1 + len(thr["values"])) + "|"]
    for name, forms in thr["D"].items():
        for form, values in forms.items():
            lines.append(f"| {name}, {form} | " + " | ".join(_fmt(x) for x in values) + " |")
    lines += ["", "### Box range (D of the pond)", "", "| sizes | D |", "|---|---|"]
    lines += [f"| {k} | {_fmt(d)} |" for k, d in sw["box_range"].items()]
    iv = sw["interval"]
    lines += ["", f"### Measuring interval (mean tau of the pond, solver dt {iv['dt']:.3g} s)",
              "", "| every N steps | " + " | ".join(str(e) for e in iv["every"]) + " |",
              "|---" * (1 + len(iv["every"])) + "|"]
    for form in ("default", "blueprint"):
        unit = "s" if form == "default" else "frames"
        lines.append(f"| tau {form} ({unit}) | " + " | ".join(
            _fmt(t) + (" (aliased)" if a else "")
            for t, a in zip(iv[form]["tau"], iv[form]["aliased"], strict=True)) + " |")
    lines += [
        "",
        f"Over the intervals the frames resolve, the default tau changes by "
        f"{_fmt(100 * v['tau_spread_resolved_default'])} % and the blueprint's by "
        f"{_fmt(100 * v['tau_spread_resolved_blueprint'])} %: the blueprint's tau "
        + ("follows the sampling." if v["tau_spread_resolved_blueprint"] > 0.15
           else "does not follow the sampling here."),
    ]
    amp = sw["amplitude"]
    lines += ["", "### Amplitude (pond x 0.1, x 1, x 10)", "",
              "| form | C | G |", "|---|---|---|"]
    for form in ("default", "blueprint"):
        lines.append(f"| {form} | " + ", ".join(_fmt(x) for x in amp[form]["C"]) + " | "
                     + ", ".join(_fmt(x) for x in amp[form]["G"]) + " |")
    lines += [
        "",
        f"C changes by {_fmt(100 * v['C_amplitude_spread_default'])} % (default) and "
        f"{_fmt(100 * v['C_amplitude_spread_blueprint'])} % (blueprint) over a 100x change "
        f"of amplitude; G by {_fmt(100 * v['G_amplitude_spread_default'])} % and "
        f"{_fmt(100 * v['G_amplitude_spread_blueprint'])} %.",
    ]
    grid = sw["grid"]
    lines += ["", "### Grid size (the pond after 1 s)", "",
              "| cells | D | D blueprint | C |", "|---|---|---|---|"]
    for i, size in enumerate(grid["size"]):
        lines.append(f"| {size} | {_fmt(grid['D'][i])} | {_fmt(grid['D blueprint'][i])} | "
                     f"{_fmt(grid['C'][i])} |")
    lines += [
        "",
        f"Over the grid sizes D moves by {v['D_grid_spread']:.2f} and C by "
        f"{v['C_grid_spread']:.2f}: "
        + ("C follows the resolution (its window is a number of cells, so a finer grid "
           "sees a smoother field)." if v["C_grid_spread"] > 0.1
           else "neither follows the resolution much."),
    ]
    b = sw["boundary"]
    lines += ["", f"### Boundary (mean of 5 frames; area share of the 3-cell border band "
              f"{b['area share']:.3f})", "",
              "| boundary | D | top-1 % C in the border | blueprint C |", "|---|---|---|---|"]
    for kind in ("absorbing", "fixed", "periodic"):
        row = b[kind]
        lines.append(f"| {kind} | {_fmt(row['D'])} | {_fmt(row['border share'])} | "
                     f"{_fmt(row['border share blueprint'])} |")
    lines += ["", "## Pictures", ""] + [f"![{p}]({p})" for p in r["pictures"]] + [""]
    return "\n".join(lines)
