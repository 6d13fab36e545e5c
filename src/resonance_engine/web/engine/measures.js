// The host side of the complexity measures, shared by the WebGPU and the CPU engine:
// what ComplexityAnalyzer (metrics/analyzer.py) and ResidentMeasures
// (backends/wgpu_gpu/analysis.py) do between the kernels: the mask threshold, the box
// sizes and the fit of D, the dwell ring's bookkeeping (slots, lag weights, scales) and
// the CI combination. The per-cell work is in the kernels (the WGSL shaders, or cpu.js).

import { ConfigError, pyRepr } from "./physics.js";

/** MetricsConfig's defaults (metrics/config.py). */
export const METRICS_DEFAULTS = {
  threshold: null, threshold_rms: 1.0, fractal_mode: "occupancy", min_box: 2, max_box: null,
  gain_window: 5, coherence_sigma: 2.0, coherence_truncate: 3.0, coherence_normalize: "frame",
  coherence_eps: 1e-6, coherence_scale: 1.0, dwell_history: 16, dwell_lambda: 4.0,
  dwell_scale: 1.0, dwell_storage: "int16", alpha: 1.0, beta: 1.0, gamma: 1.0, backend: "auto",
};

/** A measure that cannot be computed (MetricError / FieldError of the Python engine). */
export class MetricError extends Error {
  constructor(message) {
    super(message);
    this.name = "MetricError";
  }
}

/** The JSON form of MetricsConfig, checked; missing keys take the defaults. */
export function checkMetrics(config = {}) {
  for (const key of Object.keys(config)) {
    if (!(key in METRICS_DEFAULTS)) {
      throw new ConfigError(
        `unknown metrics key ${pyRepr(key)}; the keys are ${Object.keys(METRICS_DEFAULTS).join(", ")}`,
      );
    }
  }
  const m = { ...METRICS_DEFAULTS, ...config };
  if (m.gain_window % 2 === 0 || m.gain_window < 1) {
    throw new ConfigError(`gain_window must be odd (a centred window), got ${pyRepr(m.gain_window)}`);
  }
  for (const name of ["min_box", "max_box"]) {
    const v = m[name];
    if (v !== null && (!Number.isInteger(v) || v < 1 || (v & (v - 1)) !== 0)) {
      throw new ConfigError(`box sizes are powers of two, got ${pyRepr(v)}`);
    }
  }
  for (const [name, choices] of [["fractal_mode", ["occupancy", "boundary"]],
    ["coherence_normalize", ["frame", "bounded"]], ["dwell_storage", ["int16", "float"]]]) {
    if (!choices.includes(m[name])) {
      throw new ConfigError(`${name} must be one of ${choices.join(", ")}, got ${pyRepr(m[name])}`);
    }
  }
  for (const name of ["coherence_sigma", "coherence_truncate", "coherence_eps", "coherence_scale",
    "dwell_lambda", "dwell_scale", "gamma"]) {
    if (!(m[name] > 0)) throw new ConfigError(`${name} must be > 0, got ${pyRepr(m[name])}`);
  }
  if (!Number.isInteger(m.dwell_history) || m.dwell_history < 1 || m.dwell_history > 1024) {
    throw new ConfigError(`dwell_history must be an integer in [1, 1024], got ${pyRepr(m.dwell_history)}`);
  }
  return m;
}

/** Normalized Gaussian weights on -r..r, r = max(1, round(truncate sigma)) (coherence.py). */
export function gaussianWeights(sigma, truncate) {
  const r = Math.max(1, Math.floor(truncate * sigma + 0.5));
  const w = new Float64Array(2 * r + 1);
  let total = 0;
  for (let t = -r; t <= r; t++) {
    w[t + r] = Math.exp(-0.5 * (t / sigma) ** 2);
    total += w[t + r];
  }
  return w.map((v) => v / total);
}

/** Power-of-two box sizes min_box .. max_box (fractal.py box_sizes). */
export function boxSizes(ny, nx, minBox, maxBox) {
  let largest = maxBox;
  if (largest === null) {
    const quarter = Math.floor(Math.min(ny, nx) / 4);
    largest = quarter >= 1 ? 2 ** Math.floor(Math.log2(quarter)) : 0;
  }
  const sizes = [];
  for (let s = minBox; s <= largest; s *= 2) sizes.push(s);
  if (sizes.length < 2) {
    throw new MetricError(
      `box counting needs at least two box sizes, but a ${ny}x${nx} grid with ` +
      `min_box=${minBox}, max_box=${largest} gives [${sizes.join(", ")}]; use a grid of at ` +
      `least ${8 * minBox} cells per side or lower min_box`,
    );
  }
  return sizes;
}

/** Slope D and R^2 of log counts against log(1 / size) (fractal.py fit_dimension). */
export function fitDimension(sizes, counts) {
  const x = sizes.map((s) => -Math.log(s));
  const y = counts.map((c) => Math.log(c));
  const mean = (a) => a.reduce((p, q) => p + q, 0) / a.length;
  const xm = x.map((v) => v - mean(x));
  const ym = y.map((v) => v - mean(y));
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += xm[i] * ym[i];
    sxx += xm[i] * xm[i];
    syy += ym[i] * ym[i];
  }
  const slope = sxy / sxx;
  let resid = 0;
  for (let i = 0; i < x.length; i++) resid += (ym[i] - slope * xm[i]) ** 2;
  return [slope, syy <= 1e-300 ? 1.0 : 1.0 - resid / syy];
}

const MAX_INV_H = 1e30;

/**
 * The measures of successive frames of one run: the bookkeeping around a kernel set.
 *
 * The kernels object has frameStats() -> [mean, mean square, max|u|], firstCell(),
 * boxCounts(theta, levels, boundary) -> counts (levels + 1), and
 * measure(plan) -> [mean G, mean C, mean tau, mean G C (1 - exp(-tau / gamma))]
 * (all may return Promises).
 */
export class Measures {
  constructor(kernels, ny, nx, metrics) {
    const m = metrics;
    this.kernels = kernels;
    this.config = m;
    this.n = ny * nx;
    this.sizes = boxSizes(ny, nx, m.min_box, m.max_box);
    this.levels = Math.log2(this.sizes[this.sizes.length - 1]);
    this.levelIndex = this.sizes.map((s) => Math.log2(s));
    this.weights = gaussianWeights(m.coherence_sigma, m.coherence_truncate);
    this.history = m.dwell_history;
    this.lagWeights = Float64Array.from({ length: this.history }, (_, k) => Math.exp(-(k + 1) / m.dwell_lambda));
    this.slotScale = new Float64Array(this.history).fill(1.0);
    this.head = 0;
    this.framesSeen = 0;
  }

  /** The measures of the kernels' current frame; it enters the dwell ring. */
  async frame() {
    const m = this.config;
    const [mean, meanSquare, maxAbs] = await this.kernels.frameStats();
    if (![mean, meanSquare, maxAbs].every(Number.isFinite)) {
      throw new MetricError(
        "the field (batch member 0) holds NaN or inf; the measures are undefined " +
        "(check the simulation for divergence)",
      );
    }
    const theta = m.threshold !== null ? m.threshold : m.threshold_rms * Math.sqrt(Math.max(meanSquare, 0));
    const counts = await this.kernels.boxCounts(theta, this.levels, m.fractal_mode === "boundary");
    // moment_shift (backends/frame_scales.py): the mean, or a cell of a constant frame
    const spread = meanSquare - mean * mean;
    const flat = spread <= 1e-12 * Math.max(meanSquare, Number.MIN_VALUE);
    const shift = flat ? await this.kernels.firstCell() : mean;
    // dwell_scales (backends/frame_scales.py)
    const h = m.dwell_scale * Math.sqrt(Math.max(meanSquare, 0));
    const invH = h > 1 / MAX_INV_H ? 1 / Math.max(h, 1 / MAX_INV_H) : MAX_INV_H;
    const store = m.dwell_storage === "int16" ? (maxAbs > 0 ? 32767 / maxAbs : 1.0) : 1.0;
    const lags = Math.min(this.framesSeen, this.history);
    const slots = Uint32Array.from({ length: lags }, (_, l) => (((this.head - l - 1) % this.history) + this.history) % this.history);
    const means = await this.kernels.measure({
      window: m.gain_window, weights: this.weights, shift,
      normalize: m.coherence_normalize, eps: m.coherence_eps, scale: m.coherence_scale,
      slots, lagWeights: this.lagWeights.subarray(0, lags), slotScale: this.slotScale,
      invH, storeSlot: this.head, storeScale: store, quantized: m.dwell_storage === "int16",
      history: this.history, gamma: m.gamma,
    });
    this.slotScale[this.head] = 1 / store;
    this.head = (this.head + 1) % this.history;
    this.framesSeen += 1;
    const [dim, r2, note] = this.fit(counts);
    const factor = m.alpha * dim ** m.beta;
    return {
      fractal_dim: dim, fractal_r2: r2, gain: means[0], coherence: means[1], dwell: means[2],
      ci: factor * means[3], threshold: theta, active_fraction: counts[0] / this.n, note,
    };
  }

  fit(counts) {
    if (counts[0] === 0) return [NaN, NaN, "empty mask: no cell above the threshold, D undefined"];
    const used = this.levelIndex.map((l) => counts[l]);
    if (used.some((c) => c <= 0)) {
      return [NaN, NaN, "no boundary box at some size (full mask?), D undefined in boundary mode"];
    }
    const [dim, r2] = fitDimension(this.sizes, used);
    return [dim, r2, null];
  }
}
