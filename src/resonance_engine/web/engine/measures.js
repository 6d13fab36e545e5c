// The host side of the complexity measures, shared by the WebGPU and the CPU engine:
// what ComplexityAnalyzer (metrics/analyzer.py) and ResidentMeasures
// (backends/wgpu_gpu/analysis.py) do between the kernels: the mask threshold, the box
// sizes and the fit of D, the dwell ring's bookkeeping (slots, lag weights, scales) and
// the CI combination, and which shifted box grids D averages over (backends/box_grid.py).
// The per-cell work is in the kernels: the WGSL shaders on WebGPU (webgpu.js), cpu.js on
// the CPU; both take the same parameters and give back the same scalars.

import { ConfigError, formatG, pyFloat, pyRepr } from "./physics.js";

/** MetricsConfig's defaults (metrics/config.py). */
export const METRICS_DEFAULTS = {
  threshold: null, threshold_rms: 1.0, fractal_mode: "occupancy", fractal_offsets: "min",
  box_base: 2, min_box: null, max_box: null, scaling_band: 0.15, gain_window: 5,
  gain_scale: "none", gain_reference: 1.0, coherence_sigma: 2.0, coherence_truncate: 3.0,
  coherence_normalize: "local", coherence_edge: "inward", coherence_eps: 1e-6,
  coherence_scale: 0.1, dwell_mode: "recursive", dwell_history: 16, dwell_lambda: 0.1,
  dwell_scale: 1.0, dwell_storage: "int16", frame_interval: null, alpha: 1.0, beta: 1.0,
  gamma: 0.01, backend: "auto",
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
  if (m.box_base !== 2 && m.box_base !== 3) {
    throw new ConfigError(`box_base must be 2 or 3, got ${pyRepr(m.box_base)}`);
  }
  for (const name of ["min_box", "max_box"]) {
    const v = m[name];
    if (v !== null && (!Number.isInteger(v) || v < 1 || m.box_base ** levelOf(v, m.box_base) !== v)) {
      throw new ConfigError(`${name} must be a power of box_base=${m.box_base}, got ${pyRepr(v)}`);
    }
  }
  for (const [name, choices] of [["fractal_mode", ["occupancy", "boundary"]],
    ["fractal_offsets", ["min", "none"]], ["gain_scale", ["rms", "fixed", "none"]],
    ["coherence_normalize", ["local", "relative", "bounded", "frame"]],
    ["coherence_edge", ["inward", "renormalize"]], ["dwell_mode", ["recursive", "ring"]],
    ["dwell_storage", ["int16", "float"]]]) {
    if (!choices.includes(m[name])) {
      throw new ConfigError(`${name} must be one of ${choices.join(", ")}, got ${pyRepr(m[name])}`);
    }
  }
  for (const name of ["coherence_sigma", "coherence_truncate", "coherence_eps", "coherence_scale",
    "dwell_lambda", "dwell_scale", "gamma", "gain_reference", "scaling_band"]) {
    if (!(m[name] > 0)) throw new ConfigError(`${name} must be > 0, got ${pyRepr(m[name])}`);
  }
  if (!Number.isInteger(m.dwell_history) || m.dwell_history < 1 || m.dwell_history > 1024) {
    throw new ConfigError(`dwell_history must be an integer in [1, 1024], got ${pyRepr(m.dwell_history)}`);
  }
  if (m.frame_interval !== null && !(m.frame_interval > 0)) {
    throw new ConfigError(`frame_interval must be > 0 s or null, got ${pyRepr(m.frame_interval)}`);
  }
  return m;
}

/** The largest k with base^k <= size (fractal.py level_of). */
export function levelOf(size, base) {
  let k = 0;
  while (base ** (k + 1) <= size) k++;
  return k;
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

/** Box sizes base^k from min_box to max_box (fractal.py box_sizes). */
export function boxSizes(ny, nx, minBox, maxBox, base = 2) {
  const smallest = minBox === null ? base : minBox;
  let largest = maxBox;
  if (largest === null) {
    const quarter = Math.floor(Math.min(ny, nx) / 4);
    largest = quarter >= 1 ? base ** levelOf(quarter, base) : 0;
  }
  const sizes = [];
  for (let s = smallest; s <= largest; s *= base) sizes.push(s);
  if (sizes.length < 2) {
    throw new MetricError(
      `box counting needs at least two box sizes, but a ${ny}x${nx} grid with ` +
      `min_box=${smallest}, max_box=${largest} gives [${sizes.join(", ")}]; use a grid of at ` +
      `least ${4 * base * smallest} cells per side or lower min_box`,
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

// ------------------------------------------------------------ shifted box grids
// (backends/box_grid.py, shared by both engines)

/** Shifts per axis of the box grid of side `size` (box_grid.py shift_factor). */
export function shiftFactor(size, base) {
  if (base === 3) return size >= 3 ? 3 : 1;
  if (size <= 2) return 1;
  if (size <= 8) return 2;
  return size < 32 ? 4 : 8;
}

/** How many levels below a box size its shifted boxes are counted from (source_drop). */
export function sourceDrop(factor, base) {
  return base === 3 ? 1 : Math.log2(factor);
}

/**
 * The shifts d (multiples of `step` below `size`) whose boxes, starting at -d + k size,
 * cover positions lo..hi with the fewest boxes (box_grid.py tight_shifts).
 */
export function tightShifts(lo, hi, size, step) {
  const boxes = [];
  for (let d = 0; d < size; d += step) boxes.push([d, Math.floor((hi + d) / size) - Math.floor((lo + d) / size)]);
  const fewest = Math.min(...boxes.map(([, n]) => n));
  return boxes.filter(([, n]) => n === fewest).map(([d]) => d);
}

/** Mean of found[iy * n + ix] (shift iy * step, ix * step; n shifts per axis) over the
 *  grids tight along both axes for the extent [r0, r1, c0, c1] (box_grid.py tight_mean). */
export function tightMean(found, n, extent, size, step) {
  const ty = tightShifts(extent[0], extent[1], size, step);
  const tx = tightShifts(extent[2], extent[3], size, step);
  let total = 0;
  for (const dy of ty) for (const dx of tx) total += found[(dy / step) * n + dx / step];
  return total / (ty.length * tx.length);
}

/**
 * Where the counts of the box pyramid go (WgpuFieldState._count_boxes): a row of `slots`
 * counts holds the aligned counts of levels 0..levels, then (when shifted) the 4 extent
 * words of level 0 and, per shifted level, a block of n x n counts. `blocks` maps such a
 * level to [start, n]; `bySource` maps a pyramid level to the shifted levels counted from
 * its boxes, [[level, n], ...].
 */
export function boxLayout(levels, base, shifted) {
  let slots = levels + 1;
  const blocks = new Map(), bySource = new Map();
  if (shifted) {
    slots += 4;
    for (let level = 1; level <= levels; level++) {
      const n = shiftFactor(base ** level, base);
      if (n > 1) {
        blocks.set(level, [slots, n]);
        const source = level - sourceDrop(n, base);
        if (!bySource.has(source)) bySource.set(source, []);
        bySource.get(source).push([level, n]);
        slots += n * n;
      }
    }
  }
  return { slots, blocks, bySource };
}

/** The counts per level from a row of boxLayout (WgpuFieldState.shifted_box_counts):
 *  occupancy takes the mean over the tight shifted grids, boundary over all of them. */
export function shiftedCounts(row, layout, levels, boundary, base, nx, ny) {
  const counts = Array.from(row.slice(0, levels + 1));
  if (!layout.blocks.size) return counts;
  const e = levels + 1;
  const extent = counts[0] === 0 ? [0, ny - 1, 0, nx - 1]
    : [0xffffffff - row[e], row[e + 1], 0xffffffff - row[e + 2], row[e + 3]];
  for (const [level, [at, n]] of layout.blocks) {
    const found = Array.from(row.slice(at, at + n * n));
    const size = base ** level;
    counts[level] = boundary ? found.reduce((a, b) => a + b, 0) / found.length
      : tightMean(found, n, extent, size, size / n);
  }
  return counts;
}

const MAX_INV_H = 1e30;
const FLOAT32_MAX = 3.4028234663852886e38;
//: Frames per period of the dominant frequency below which the recursive tau is aliased.
const MIN_FRAMES_PER_PERIOD = 4.0;

/** exponent e of x = m 2^e, 0.5 <= m < 1 (numpy.frexp), for x > 0. */
function frexpExponent(x) {
  let e = Math.floor(Math.log2(x)) + 1;
  if (2 ** (e - 1) > x) e -= 1;
  else if (2 ** e <= x) e += 1;
  return e;
}

/** The moment scale, coh_a, coh_b and a note when C overflows float32
 *  (coherence_constants of metrics/analyzer.py, one member). */
export function coherenceConstants(m, stats, shift) {
  const mode = m.coherence_normalize;
  const reach = Math.abs(stats[2]) + Math.abs(shift);
  const exponent = frexpExponent(reach > 0 ? reach : 1.0);
  if (mode === "local") return [2 ** -exponent, 1.0, 1.0, null];
  if (mode === "relative") {
    const spread = Math.max(stats[1] - stats[0] ** 2, 0);
    return [spread > 0 ? 1 / Math.sqrt(spread) : 1.0, 1 / m.coherence_scale, 1.0, null];
  }
  const scale = 2 ** -exponent;
  const cohA = (mode === "frame" ? 1.0 : 1 / m.coherence_scale) * 2 ** (2 * exponent);
  const cohB = mode === "frame" ? m.coherence_eps : 1.0;
  if (cohA > FLOAT32_MAX / 16) {
    return [scale, 1.0, cohB, `C undefined: the '${mode}' coherence of a float32 field with ` +
      `max|u| = ${formatG(stats[2], 3)} overflows float32; use float64 fields or ` +
      "coherence_normalize='local'"];
  }
  return [scale, cohA, cohB, null];
}

/** The aliasing note of the recursive dwell (aliasing_note of metrics/analyzer.py). */
export function aliasingNote(frequency, dt) {
  if (frequency === null || !Number.isFinite(frequency) || !Number.isFinite(dt)) return null;
  if (frequency <= 0 || frequency * dt * MIN_FRAMES_PER_PERIOD <= 1) return null;
  return `tau is aliased: ${(1 / (frequency * dt)).toFixed(2)} frames per period of the dominant ` +
    `frequency ${formatG(frequency, 3)} Hz (< ${formatG(MIN_FRAMES_PER_PERIOD)}); measure more often`;
}

/**
 * The measures of successive frames of one run: the bookkeeping of ComplexityAnalyzer
 * (metrics/analyzer.py) around the kernels of `engine.measureKernels()`: frameStats,
 * firstCell, boxCounts and measure, the WGSL shaders on the frame resident on the GPU
 * (webgpu.js: only scalars come back) or cpu.js FrameKernels on the CPU engine's frame.
 * Every form of MetricsConfig runs on both.
 */
export class Measures {
  constructor(engine, sim, metrics) {
    const m = metrics;
    this.engine = engine;
    this.config = m;
    this.n = sim.ny * sim.nx;
    this.sizes = boxSizes(sim.ny, sim.nx, m.min_box, m.max_box, m.box_base);
    this.levels = levelOf(this.sizes[this.sizes.length - 1], m.box_base);
    this.levelIndex = this.sizes.map((s) => levelOf(s, m.box_base));
    this.weights = gaussianWeights(m.coherence_sigma, m.coherence_truncate);
    this.history = m.dwell_history;
    this.lagWeights = Float64Array.from({ length: this.history }, (_, k) => Math.exp(-(k + 1) / m.dwell_lambda));
    this.slotScale = new Float64Array(this.history).fill(1.0);
    this.head = 0;
    this.framesSeen = 0;
    this.lastT = null;
    this.frames = 0;
  }

  /** Seconds since the previous frame, and a note when they are not known. */
  frameInterval(t) {
    const last = this.lastT;
    this.lastT = t;
    if (last !== null && t > last) return [t - last, null];
    if (this.config.frame_interval !== null) return [this.config.frame_interval, null];
    if (this.frames === 0) return [NaN, null];
    return [1.0, "tau counts frames: no frame time (pass t= or set frame_interval)"];
  }

  /** The measures of the engine's current frame (simulated time t); it enters the dwell. */
  async frame(t) {
    const m = this.config;
    const kernels = this.engine.measureKernels();
    const stats = await kernels.frameStats();
    const [mean, meanSquare, maxAbs] = stats;
    if (![mean, meanSquare, maxAbs].every(Number.isFinite)) {
      throw new MetricError(
        "the field (batch member 0) holds NaN or inf; the measures are undefined " +
        "(check the simulation for divergence)",
      );
    }
    const theta = m.threshold !== null ? m.threshold : m.threshold_rms * Math.sqrt(Math.max(meanSquare, 0));
    const [dt, timeNote] = this.frameInterval(t);
    const boundary = m.fractal_mode === "boundary";
    const counts = await kernels.boxCounts(theta, this.levels, boundary, m.box_base, m.fractal_offsets === "min");
    // moment_shift (backends/frame_scales.py): the mean, or a cell of a constant frame
    const spread = meanSquare - mean * mean;
    const flat = spread <= 1e-12 * Math.max(meanSquare, Number.MIN_VALUE);
    const shift = flat ? await kernels.firstCell() : mean;
    // dwell_scales (backends/frame_scales.py)
    const h = m.dwell_scale * Math.sqrt(Math.max(meanSquare, 0));
    const invH = h > 1 / MAX_INV_H ? 1 / Math.max(h, 1 / MAX_INV_H) : MAX_INV_H;
    const ring = m.dwell_mode === "ring";
    const store = ring && m.dwell_storage === "int16" ? (maxAbs > 0 ? 32767 / maxAbs : 1.0) : 1.0;
    const lags = Math.min(this.framesSeen, this.history);
    const [momentScale, cohA, cohB, cNote] = coherenceConstants(m, stats, shift);
    const params = {
      window: m.gain_window, weights: this.weights, shift, gamma: m.gamma,
      normalize: m.coherence_normalize, inward: m.coherence_edge === "inward", momentScale,
      cohA, cohB, local: m.coherence_normalize === "local", undefinedC: cNote !== null,
      recursive: ring ? null : this.recursiveStep(dt, invH),
      slots: Uint32Array.from({ length: lags }, (_, l) => (((this.head - l - 1) % this.history) + this.history) % this.history),
      lagWeights: this.lagWeights.subarray(0, lags), slotScale: this.slotScale,
      invH, storeSlot: this.head, storeScale: store, quantized: m.dwell_storage === "int16",
      history: this.history,
    };
    const means = await kernels.measure(params);
    if (ring) {
      this.slotScale[this.head] = 1 / store;
      this.head = (this.head + 1) % this.history;
    }
    this.framesSeen += 1;
    this.frames += 1;
    const gainScale = m.gain_scale === "rms"
      ? (meanSquare > 0 ? 1 / Math.sqrt(meanSquare) : 1.0)
      : m.gain_scale === "fixed" ? 1 / m.gain_reference : 1.0;
    const [dim, r2, dNote, scaling] = this.fit(counts);
    const notes = [dNote, timeNote, cNote];
    if (!ring) notes.push(aliasingNote(this.engine.dominantFrequency(), timeNote === null ? dt : NaN));
    const factor = m.alpha * dim ** m.beta;
    return {
      fractal_dim: dim, fractal_r2: r2, gain: gainScale * means[0],
      coherence: cNote ? NaN : means[1], dwell: means[2],
      ci: cNote ? NaN : factor * gainScale * means[3], threshold: theta,
      active_fraction: counts[0] / this.n, note: notes.filter((s) => s).join("; ") || null,
      fractal_scaling: scaling,
    };
  }

  /** (decay, increment, rate) of the recursive dwell (RecursiveDwell.coefficients). */
  recursiveStep(dt, invH) {
    if (this.framesSeen === 0) return { invH, decay: 0, increment: 0, rate: 0 };
    if (!(dt > 0)) {
      throw new MetricError(
        `the recursive dwell needs increasing frame times, got a step of ${pyFloat(dt)} s ` +
        "(pass t= to update, or set MetricsConfig.frame_interval)",
      );
    }
    const lam = this.config.dwell_lambda;
    return { invH, decay: Math.exp(-dt / lam), increment: dt, rate: dt / lam };
  }

  fit(counts) {
    if (counts[0] === 0) return [NaN, NaN, "empty mask: no cell above the threshold, D undefined", null];
    const used = this.levelIndex.map((l) => counts[l]);
    if (used.some((c) => c <= 0)) {
      return [NaN, NaN, "no boundary box at some size (full mask?), D undefined in boundary mode", null];
    }
    const [dim, r2] = fitDimension(this.sizes, used);
    const slopes = [];
    for (let i = 1; i < used.length; i++) {
      slopes.push((Math.log(used[i]) - Math.log(used[i - 1])) / -(Math.log(this.sizes[i]) - Math.log(this.sizes[i - 1])));
    }
    const band = this.config.scaling_band;
    const scaling = slopes.length >= 2 && slopes.every((s) => Math.abs(s - dim) <= band);
    const note = scaling ? null
      : `D has no scaling range: local slopes ${Math.min(...slopes).toFixed(2)}..` +
        `${Math.max(...slopes).toFixed(2)} are not within D +- ${formatG(band)}`;
    return [dim, r2, note, scaling];
  }
}
